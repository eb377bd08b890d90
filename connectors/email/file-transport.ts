import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a sent e-mail goes. SMTP comes later; the file transport is the local default. */
export interface EmailTransport {
  /** Deliver the raw message; must be idempotent on `key`. Returns where it went. */
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
