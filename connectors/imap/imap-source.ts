import { ImapFlow } from 'imapflow';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { describeError } from '../../core/errors.ts';
import type { InboundEvent, InboundSink } from '../../core/inbound.ts';
import type { Queryable } from '../../db/database.ts';
import {
  ImapMailboxRepository,
  InboundDeliveryRepository,
} from '../../db/repositories/inbound-deliveries.ts';
import { type NormalisedEmail, parseEmail } from './mail-message.ts';

/** One mailbox to read (IMAP_URL or IMAP_HOST/PORT/USER/PASSWORD/MAILBOX/TLS). */
export interface ImapSettings {
  host: string;
  port: number;
  /** TLS from the first byte (imaps, port 993). */
  secure: boolean;
  user: string;
  password: string;
  mailbox: string;
}

/** A normalised message with its Message-ID (synthesised when the message has none) and mailbox. */
export type ReceivedEmail = NormalisedEmail & { messageId: string; mailbox: string };

export interface ImapSourceOptions {
  settings: ImapSettings;
  db: Queryable;
  /** Store the message (a memory); idempotent per Message-ID. */
  ingest: (email: ReceivedEmail) => Promise<{ memoryId: number }>;
  sink: InboundSink;
  /** The operator the mailbox belongs to, set on every event. */
  operatorId?: number | undefined;
  logger: Logger;
  clock: Clock;
  /** On the first start (no stored cursor) or a UIDVALIDITY change: read messages of the last N days. */
  initialDays?: number;
  /** Reconnect backoff after a dropped connection or a failed hand-over. */
  backoff?: { initialMs: number; maxMs: number };
}

const FETCH_BATCH = 20;

/**
 * Reads one IMAP mailbox: on connect, every message after the stored UID (UIDVALIDITY checked);
 * then IDLE, reading again whenever the server announces new mail; reconnects with backoff when
 * the connection drops. Each message is stored as a memory and handed to the sink; the UID is
 * stored only after the sink resolved (at least once), and a Message-ID seen before is skipped.
 */
export class ImapSource {
  readonly #options: ImapSourceOptions;
  readonly #deliveries: InboundDeliveryRepository;
  readonly #cursors: ImapMailboxRepository;
  readonly #key: string;
  #client: ImapFlow | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #syncing: Promise<void> | undefined;
  #syncAgain = false;
  /** Completed reads of the mailbox since start (tests wait on it). */
  syncs = 0;

  constructor(options: ImapSourceOptions) {
    this.#options = options;
    this.#deliveries = new InboundDeliveryRepository(options.db);
    this.#cursors = new ImapMailboxRepository(options.db);
    const { settings } = options;
    this.#key = `${settings.user}@${settings.host}:${settings.port}/${settings.mailbox}`;
  }

  /** Start reading in the background; failures are logged and retried, never thrown. */
  start(): void {
    this.#stopped = false;
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    const client = this.#client;
    if (client) await client.logout().catch(() => client.close());
    await this.#loop;
    this.#loop = undefined;
  }

  async #run(): Promise<void> {
    const { logger } = this.#options;
    const backoff = this.#options.backoff ?? { initialMs: 1_000, maxMs: 60_000 };
    let failures = 0;
    while (!this.#stopped) {
      const client = this.#connect();
      this.#client = client;
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      try {
        await client.connect();
        await client.mailboxOpen(this.#options.settings.mailbox);
        client.on('exists', () => {
          this.#requestSync(client);
        });
        await this.#requestSync(client);
        failures = 0;
        // Auto-IDLE runs while nothing else is asked; 'exists' wakes a read; 'close' ends this round.
        await closed;
      } catch (error) {
        logger.warn(
          { err: describeError(error), mailbox: this.#key },
          'IMAP mailbox read failed; reconnecting',
        );
        client.close();
      }
      if (this.#stopped) break;
      failures += 1;
      const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures - 1, 16));
      logger.info(
        { mailbox: this.#key, delayMs: delay },
        'IMAP connection closed; reconnecting after a pause',
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  #connect(): ImapFlow {
    const { settings, logger } = this.#options;
    const client = new ImapFlow({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      auth: { user: settings.user, pass: settings.password },
      logger: false,
      // IDLE soon after a read: the server announces new mail only while IDLE (or on a command).
      autoIdleDelay: 1_000,
      // Without TLS configured, do not upgrade to STARTTLS on our own: the operator chose plain.
      ...(settings.secure ? {} : { doSTARTTLS: false }),
    });
    client.on('error', (error: unknown) => {
      logger.warn({ err: describeError(error), mailbox: this.#key }, 'IMAP connection error');
    });
    return client;
  }

  /** Read new messages; a read asked for during a read runs once after it. */
  #requestSync(client: ImapFlow): Promise<void> {
    if (this.#syncing) {
      this.#syncAgain = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      try {
        do {
          this.#syncAgain = false;
          await this.#sync(client);
          this.syncs += 1;
        } while (this.#syncAgain && !this.#stopped);
      } catch (error) {
        // A failed hand-over (sink, memory, database): drop the connection, so the loop backs off and retries.
        this.#options.logger.warn(
          { err: describeError(error), mailbox: this.#key },
          'reading new mail failed',
        );
        client.close();
      } finally {
        this.#syncing = undefined;
      }
    })();
    return this.#syncing;
  }

  async #sync(client: ImapFlow): Promise<void> {
    const mailbox = client.mailbox;
    if (!mailbox) return;
    const uidValidity = String(mailbox.uidValidity);
    const stored = await this.#cursors.get(this.#key);
    let uids: number[];
    if (stored && stored.uidValidity === uidValidity) {
      uids = ((await client.search({ uid: `${stored.lastUid + 1}:*` }, { uid: true })) || []).filter(
        (uid) => uid > stored.lastUid,
      );
    } else {
      // First start, or the server renumbered the mailbox: read the recent window again (Message-IDs dedupe).
      if (stored)
        this.#options.logger.warn({ mailbox: this.#key }, 'UIDVALIDITY changed; rescanning the mailbox');
      const since = new Date(
        this.#options.clock.now().getTime() - (this.#options.initialDays ?? 7) * 86_400_000,
      );
      uids = (await client.search({ since }, { uid: true })) || [];
      await this.#cursors.save(this.#key, { uidValidity, lastUid: 0 });
    }
    uids.sort((a, b) => a - b);
    for (let start = 0; start < uids.length && !this.#stopped; start += FETCH_BATCH) {
      const batch = uids.slice(start, start + FETCH_BATCH);
      // Fetch the batch fully before handling it: no other IMAP command may run inside a fetch.
      const messages = await client.fetchAll(batch.join(','), { uid: true, source: true }, { uid: true });
      messages.sort((a, b) => a.uid - b.uid);
      for (const message of messages) {
        if (!message.source) continue;
        await this.#handle(parseEmail(message.source), `${uidValidity}.${message.uid}`);
        await this.#cursors.save(this.#key, { uidValidity, lastUid: message.uid });
      }
    }
  }

  async #handle(parsed: NormalisedEmail, fallbackId: string): Promise<void> {
    const messageId = parsed.messageId ?? `${fallbackId}@${this.#key}`;
    if (await this.#deliveries.seen('email', messageId)) return;
    const email: ReceivedEmail = { ...parsed, messageId, mailbox: this.#options.settings.mailbox };
    const { memoryId } = await this.#options.ingest(email);
    const event: InboundEvent = {
      source: 'email',
      id: messageId,
      type: 'message',
      ...(this.#options.operatorId === undefined ? {} : { operatorId: this.#options.operatorId }),
      occurredAt: email.date ?? this.#options.clock.now(),
      payload: {
        messageId,
        from: email.from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        date: (email.date ?? this.#options.clock.now()).toISOString(),
        mailbox: email.mailbox,
        memoryId,
      },
    };
    await this.#options.sink(event);
    await this.#deliveries.record('email', messageId, 'message', memoryId);
  }
}
