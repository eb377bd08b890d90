import { readdirSync } from 'node:fs';

/** The e-mails the file transport wrote into an outbox folder (none when it does not exist yet). */
export function outboxFiles(outboxDir: string): string[] {
  try {
    return readdirSync(outboxDir).filter((file) => file.endsWith('.eml'));
  } catch {
    return [];
  }
}
