import nodemailer, { type Transporter } from 'nodemailer';
import { SpineError } from '../../core/errors.ts';
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

/**
 * Sends the exact RFC 5322 message over SMTP (nodemailer). SMTP has no idempotency key, so the
 * Message-ID is derived from the action's key (receivers and clients collapse duplicates), and only
 * failures where the server cannot have accepted the message are retryable: a connection refused
 * or a 4xx reply. A lost answer after DATA is not retried, so a message is never sent twice by us.
 */
export class SmtpEmailTransport implements EmailTransport {
  readonly #transporter: Transporter;
  readonly #settings: SmtpSettings;

  constructor(settings: SmtpSettings) {
    this.#settings = settings;
    this.#transporter = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTls ?? false,
      ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
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
    try {
      const info = await this.#transporter.sendMail({
        envelope: { from: addressOf(envelope.from), to: envelope.to.map(addressOf) },
        raw,
      });
      return {
        location: `smtp://${this.#settings.host}:${this.#settings.port} ${info.response}`,
        duplicate: false,
      };
    } catch (error) {
      const failure = error as SmtpFailure;
      const transient =
        (failure.responseCode !== undefined && failure.responseCode >= 400 && failure.responseCode < 500) ||
        failure.code === 'ECONNECTION' ||
        failure.code === 'EDNS';
      const permanent = failure.responseCode !== undefined && failure.responseCode >= 500;
      throw new SpineError(
        transient ? 'email.smtp_unavailable' : permanent ? 'email.smtp_rejected' : 'email.smtp_failed',
        `The SMTP server ${this.#settings.host} ${permanent ? 'refused' : 'did not take'} the message for ${key}: ` +
          `${failure.response ?? failure.message ?? String(error)}` +
          (permanent ? '. Check the address and the SMTP settings in spine.config.yaml.' : ''),
        {
          category: permanent ? 'user' : 'third_party',
          retryable: transient,
          details: { responseCode: failure.responseCode ?? null, smtpCode: failure.code ?? null },
        },
      );
    }
  }

  /** Check the connection and credentials (for `spine connectors`). */
  async verify(): Promise<void> {
    await this.#transporter.verify();
  }

  close(): void {
    this.#transporter.close();
  }
}
