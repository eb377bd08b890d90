import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RetrySafety } from '../connector.ts';

/** Where a sent e-mail goes: the SMTP server, or the file outbox (the local default). */
export interface EmailTransport {
  /**
   * Whether a repeat of `deliver` with the same key is harmless (`by_key`: the outbox finds its
   * file) or could deliver twice (`until_sent`: SMTP has no key).
   */
  readonly retry: RetrySafety;
  /** Deliver the raw message. Returns where it went. */
  deliver(
    raw: string,
    key: string,
    envelope?: { from: string; to: string[] },
    signal?: AbortSignal,
  ): Promise<{ location: string; duplicate: boolean }>;
}

/**
 * Writes each message as `<key>.eml` into a folder (the outbox). Written to a temporary name and
 * renamed, so a crash never leaves half a message, and a retry with the same key finds the file
 * and writes nothing: exactly one file per action.
 */
export class FileEmailTransport implements EmailTransport {
  readonly retry = 'by_key' as const;

  constructor(private readonly directory: string) {}

  async deliver(raw: string, key: string): Promise<{ location: string; duplicate: boolean }> {
    mkdirSync(this.directory, { recursive: true });
    const safeKey = key.replace(/[^A-Za-z0-9_.-]/g, '_');
    const location = join(this.directory, `${safeKey}.eml`);
    if (existsSync(location)) return { location, duplicate: true };
    const temporary = join(this.directory, `.${safeKey}.${process.pid}.tmp`);
    writeFileSync(temporary, raw);
    renameSync(temporary, location);
    return { location, duplicate: false };
  }
}
