import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { SpineError } from '../../core/errors.ts';
import type { DeliveryProof } from '../connector-errors.ts';
import type { EmailTransport } from './file-transport.ts';

/** Where and how to reach the SMTP server. The password comes from the environment, never the file. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user?: string | undefined;
  password?: string | undefined;
  /** Refuse to send without STARTTLS (recommended for anything but loopback). */
  requireTls?: boolean | undefined;
  /** Accept self-signed certificates (local test servers only). */
  allowSelfSigned?: boolean | undefined;
  timeoutMs?: number | undefined;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/** A plain address from `Name <a@b>` or `a@b`. */
export function addressOf(value: string): string {
  return /<([^>]+)>/.exec(value)?.[1]?.trim() ?? value.trim();
}

/** A failure, and whether the message's bytes had started to leave when it came. */
class SmtpAttemptError extends Error {
  constructor(
    readonly failure: SmtpFailure,
    readonly dataStarted: boolean,
  ) {
    super(failure.message ?? 'SMTP failure');
  }
}

/**
 * Sends the exact RFC 5322 message over SMTP, one connection per message (nodemailer's
 * SMTPConnection, so the transport sees where in the dialogue a failure came). SMTP has no
 * idempotency key: once the message's DATA started, the server may have accepted it even if its
 * answer never arrived (nodemailer reports that as ECONNECTION, like a refused connection). So a
 * failure says what it proves: before DATA, or a 4xx to the message, nothing was delivered
 * (`not_sent`, retryable); a 5xx is a refusal (`refused`); a lost answer after DATA started proves
 * nothing, and the runtime makes the action's outcome unknown instead of sending it again. The
 * Message-ID is derived from the action's key, so a repeat the operator asks for is recognisable.
 */
export class SmtpEmailTransport implements EmailTransport {
  readonly retry = 'until_sent' as const;
  readonly #settings: SmtpSettings;

  constructor(settings: SmtpSettings) {
    this.#settings = settings;
  }

  #connection(): SMTPConnection {
    const settings = this.#settings;
    return new SMTPConnection({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTls ?? false,
      tls: { rejectUnauthorized: !settings.allowSelfSigned },
      connectionTimeout: settings.timeoutMs ?? 15_000,
      greetingTimeout: settings.timeoutMs ?? 15_000,
      socketTimeout: settings.timeoutMs ?? 30_000,
    });
  }

  async deliver(
    raw: string,
    key: string,
    envelope?: { from: string; to: string[] },
    signal?: AbortSignal,
  ): Promise<{ location: string; duplicate: boolean }> {
    if (!envelope) throw new SpineError('email.no_envelope', 'SMTP delivery needs a sender and recipients.');
    signal?.throwIfAborted();
    const connection = this.#connection();
    const stop = () => connection.close();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      const response = await this.#send(connection, raw, {
        from: addressOf(envelope.from),
        to: envelope.to.map(addressOf),
      });
      connection.quit();
      return {
        location: `smtp://${this.#settings.host}:${this.#settings.port} ${response}`,
        duplicate: false,
      };
    } catch (error) {
      connection.close();
      throw this.#failure(error, key);
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  /** Connect, log in, send; the error says whether the message's bytes had started to leave. */
  #send(connection: SMTPConnection, raw: string, envelope: { from: string; to: string[] }): Promise<string> {
    const settings = this.#settings;
    let dataStarted = false;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      // The state is taken when the failure arrives: nodemailer drains the message stream after an
      // envelope failure too, but only once this callback has run.
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        reject(new SmtpAttemptError((error ?? {}) as SmtpFailure, dataStarted));
      };
      // `on`, not `once`: a second 'error' with no listener would throw out of the socket.
      connection.on('error', fail);
      connection.once('end', () =>
        fail({ code: 'ECONNECTION', message: 'Connection closed before the server answered' }),
      );
      const send = () => {
        // Read only after the server said 354 to DATA: from here on the server may accept it.
        const message = new Readable({
          read() {
            dataStarted = true;
            this.push(raw);
            this.push(null);
          },
        });
        connection.send(envelope, message, (error, info) => {
          if (error) return fail(error);
          if (settled) return;
          settled = true;
          resolve(String(info.response ?? '250'));
        });
      };
      connection.connect((error) => {
        if (error) return fail(error);
        if (!settings.user) return send();
        connection.login({ user: settings.user, pass: settings.password ?? '' }, (loginError) =>
          loginError ? fail(loginError) : send(),
        );
      });
    });
  }

  #failure(error: unknown, key: string): SpineError {
    const failure = error instanceof SmtpAttemptError ? error.failure : ((error ?? {}) as SmtpFailure);
    const dataStarted = error instanceof SmtpAttemptError && error.dataStarted;
    const code = failure.responseCode;
    // A 4xx is "not now" (nothing accepted), a 5xx is "no": the server answered either way.
    const temporary = code !== undefined && code >= 400 && code < 500;
    const permanent = (code !== undefined && code >= 500) || failure.code === 'EAUTH';
    const delivery: DeliveryProof | null = permanent
      ? 'refused'
      : temporary || !dataStarted
        ? 'not_sent'
        : null;
    const detail = failure.response ?? failure.message ?? String(error);
    if (delivery === null) {
      return new SpineError(
        'email.smtp_answer_lost',
        `The SMTP server ${this.#settings.host} may have accepted the message for ${key}, but its answer never arrived (${detail})`,
        {
          category: 'third_party',
          retryable: false,
          details: { responseCode: null, smtpCode: failure.code ?? null, delivery: null },
        },
      );
    }
    return new SpineError(
      permanent ? 'email.smtp_rejected' : 'email.smtp_unavailable',
      `The SMTP server ${this.#settings.host} ${permanent ? 'refused' : 'did not take'} the message for ${key}: ${detail}` +
        (permanent ? '. Check the address and the SMTP settings in spine.config.yaml.' : ''),
      {
        category: permanent ? 'user' : 'third_party',
        retryable: !permanent,
        details: { responseCode: code ?? null, smtpCode: failure.code ?? null, delivery },
      },
    );
  }

  /** Check the connection and credentials (for `spine connectors`). */
  async verify(): Promise<void> {
    const connection = this.#connection();
    try {
      await new Promise<void>((resolve, reject) => {
        connection.on('error', reject);
        connection.connect((error) => {
          if (error) return reject(error);
          if (!this.#settings.user) return resolve();
          connection.login(
            { user: this.#settings.user, pass: this.#settings.password ?? '' },
            (loginError) => (loginError ? reject(loginError) : resolve()),
          );
        });
      });
      connection.quit();
    } finally {
      connection.close();
    }
  }

  close(): void {
    // One connection per message: nothing is kept open between messages.
  }
}
