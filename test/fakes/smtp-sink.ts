import { createServer, type Server, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/**
 * What the next SMTP session (one TCP connection) gets instead of a normal one. Each says whether
 * the message counts as accepted, because that is what a once-ness test has to reason about:
 * - `refuse_connection`: the connection is reset before the greeting (nodemailer reports it as it
 *   reports a refused one: `ESOCKET` during `CONN`); nothing can have been sent.
 * - `reject_rcpt_4xx`: 451 at RCPT TO; the client never reaches DATA.
 * - `drop_after_data`: the whole message is read and COUNTED, then the socket is destroyed instead
 *   of the final 250 (a client sees a lost connection after DATA, yet the mail went out).
 * - `ack_after_ms`: the message is COUNTED, and the 250 comes only after `ms` (longer than a
 *   client's timeout, the client gives up on a message that was delivered).
 * - `reject_data_5xx`: 550 after the message was read; not counted (the server refused it).
 */
export type SmtpFault =
  | { kind: 'refuse_connection' }
  | { kind: 'reject_rcpt_4xx' }
  | { kind: 'drop_after_data' }
  | { kind: 'ack_after_ms'; ms: number }
  | { kind: 'reject_data_5xx' };

/** One message the sink accepted: one per DATA it took, never collapsed by Message-ID. */
export interface AcceptedMessage {
  /** The Message-ID header without angle brackets, or null when the message has none. */
  messageId: string | null;
  from: string;
  to: string[];
  raw: string;
  /** The fault of the session that took it (`none` for a normal one). */
  fault: SmtpFault['kind'] | 'none';
}

export interface SmtpSinkOptions {
  /** Require AUTH with these credentials; without them any client (authenticated or not) may send. */
  credentials?: { user: string; password: string };
}

/** `<a@b>` and `a@b` name the same message. */
function bareMessageId(value: string): string {
  return value.trim().replace(/^<|>$/g, '');
}

/** The Message-ID of a raw RFC 5322 message (headers end at the first empty line; folded lines joined). */
export function messageIdOf(raw: string): string | null {
  const end = raw.search(/\r?\n\r?\n/);
  const headers = (end >= 0 ? raw.slice(0, end) : raw).replace(/\r?\n[ \t]+/g, ' ');
  const line = /^message-id:\s*(.+)$/im.exec(headers);
  return line?.[1] ? bareMessageId(line[1]) : null;
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

/**
 * A real SMTP server on loopback that counts every message it accepts and never deduplicates: the
 * place to count e-mails when a test claims "sent once". (Spine's file outbox overwrites
 * `<key>.eml`, so a second delivery of the same action is invisible there; here it is a second
 * entry in `accepted`.) Faults for the next sessions are scripted in `script`, first in first out.
 *
 * @example
 * const sink = new SmtpSink();
 * const port = await sink.start();
 * sink.script.push({ kind: 'drop_after_data' });
 * // … send through Spine with email.smtp.port = port …
 * expect(sink.accepted).toHaveLength(1);
 */
export class SmtpSink {
  /** Every message accepted, in order; a repeat is another entry. */
  readonly accepted: AcceptedMessage[] = [];
  /** Faults for the next sessions, first in first out; a normal session once empty. */
  readonly script: SmtpFault[] = [];
  /** TCP connections opened to the sink (refused ones included): shows that a client retried. */
  connections = 0;
  port = 0;
  readonly #smtp: SMTPServer;
  /**
   * The sink listens itself and hands each socket to smtp-server: that is the one place a
   * connection can be refused before any greeting, and where each socket is paired with its fault.
   */
  readonly #front: Server;
  readonly #sockets = new Set<Socket>();
  /** Faults by the client's port, from the connection until smtp-server opens its session. */
  readonly #pendingFaults = new Map<number, SmtpFault>();
  readonly #sessionFaults = new Map<string, SmtpFault>();
  readonly #socketsByPort = new Map<number, Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: SmtpSinkOptions = {}) {
    const credentials = options.credentials;
    this.#smtp = new SMTPServer({
      authOptional: credentials === undefined,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      onAuth(auth, _session, callback) {
        if (!credentials || (auth.username === credentials.user && auth.password === credentials.password))
          return callback(null, { user: auth.username ?? 'anonymous' });
        return callback(smtpError('Invalid username or password', 535));
      },
      onConnect: (session, callback) => {
        const fault = this.#pendingFaults.get(session.remotePort);
        this.#pendingFaults.delete(session.remotePort);
        if (fault) this.#sessionFaults.set(session.id, fault);
        callback();
      },
      onRcptTo: (_address, session, callback) => {
        if (this.#sessionFaults.get(session.id)?.kind === 'reject_rcpt_4xx')
          return callback(smtpError('Mailbox temporarily unavailable, try again later', 451));
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => this.#onMessage(session, Buffer.concat(chunks).toString('utf8'), callback));
      },
      onClose: (session) => {
        this.#sessionFaults.delete(session.id);
      },
    });
    // A client that vanished mid-session is an expected event here, not a test failure.
    this.#smtp.on('error', () => {});
    this.#front = createServer((socket) => this.#onConnection(socket));
  }

  /** Listen on a free loopback port; returns it. */
  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#front.listen(0, '127.0.0.1', resolve));
    this.port = (this.#front.address() as { port: number }).port;
    return this.port;
  }

  /** How many times a message with this Message-ID was accepted (`<…>` optional). */
  countFor(messageId: string): number {
    const wanted = bareMessageId(messageId);
    return this.accepted.filter((message) => message.messageId === wanted).length;
  }

  /** Message-IDs accepted more than once, with their counts (empty when every message landed once). */
  duplicates(): Array<{ messageId: string; count: number }> {
    const counts = new Map<string, number>();
    for (const { messageId } of this.accepted)
      if (messageId) counts.set(messageId, (counts.get(messageId) ?? 0) + 1);
    return [...counts].filter(([, count]) => count > 1).map(([messageId, count]) => ({ messageId, count }));
  }

  /** Messages accepted for a recipient (plain address). */
  acceptedFor(address: string): AcceptedMessage[] {
    const wanted = address.toLowerCase();
    return this.accepted.filter((message) => message.to.some((to) => to.toLowerCase() === wanted));
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#front.close(() => resolve()));
    // smtp-server never listened (the front did), so its close only drops its bookkeeping.
    await new Promise<void>((resolve) => this.#smtp.close(() => resolve()));
  }

  #onConnection(socket: Socket): void {
    this.connections += 1;
    // Read now: a closed socket no longer knows its peer's port.
    const port = socket.remotePort ?? 0;
    this.#sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#pendingFaults.delete(port);
      if (this.#socketsByPort.get(port) === socket) this.#socketsByPort.delete(port);
    });
    const fault = this.script.shift();
    if (fault?.kind === 'refuse_connection') {
      // A reset rather than a clean close: the client then fails as it does on a refused
      // connection (a socket error during CONN), not with a vague "unexpected close" a second later.
      socket.resetAndDestroy();
      return;
    }
    this.#socketsByPort.set(port, socket);
    if (fault) this.#pendingFaults.set(port, fault);
    this.#smtp.server.emit('connection', socket);
  }

  #onMessage(session: SMTPServerSession, raw: string, callback: (error?: Error | null) => void): void {
    const fault = this.#sessionFaults.get(session.id);
    if (fault?.kind === 'reject_data_5xx') {
      callback(smtpError('Message rejected by policy', 550));
      return;
    }
    this.accepted.push({
      messageId: messageIdOf(raw),
      from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
      raw,
      fault: fault?.kind ?? 'none',
    });
    if (fault?.kind === 'drop_after_data') {
      // The callback is never called: no 250 is written, the connection just ends.
      this.#socketsByPort.get(session.remotePort)?.destroy();
      return;
    }
    if (fault?.kind === 'ack_after_ms') {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        callback();
      }, fault.ms);
      this.#timers.add(timer);
      return;
    }
    callback();
  }
}
