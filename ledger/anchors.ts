import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AnchorFields } from './ledger-key.ts';

/**
 * A signed note of the ledger's head, kept outside the database: the newest event's id and hash,
 * the count, and the MAC of it all with the ledger key. Deleting the newest events leaves a valid
 * shorter chain; the anchor is what still remembers the longer one.
 */
export interface Anchor extends AnchorFields {
  v: 1;
  /** Which key signed it (`LedgerKey.id`): a replaced key file is told apart from tampering. */
  keyId: string;
  mac: string;
}

/** Where anchors go. The file is the default; a webhook or e-mail copy would be one more store. */
export interface AnchorStore {
  append(anchor: Anchor): Promise<void>;
  /** The newest anchor written for this schema, if any. */
  latest(schema: string): Promise<Anchor | undefined>;
}

/**
 * Anchors as JSON lines appended to one file (`<SPINE_DATA_DIR>/ledger-anchors.jsonl`), mode 0600.
 * Lines are only ever appended; one short line per write stays whole under O_APPEND.
 */
export class FileAnchorStore implements AnchorStore {
  constructor(readonly file: string) {}

  async append(anchor: Anchor): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, `${JSON.stringify(anchor)}\n`, { mode: 0o600 });
  }

  async latest(schema: string): Promise<Anchor | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const lines = text.split('\n');
    for (let index = lines.length - 1; index >= 0; index -= 1) {
      const anchor = parseAnchor(lines[index] ?? '');
      if (anchor?.schema === schema) return anchor;
    }
    return undefined;
  }
}

/** One line of the file, or undefined for a blank or torn line (a crash mid-write). */
export function parseAnchor(line: string): Anchor | undefined {
  if (line.trim() === '') return undefined;
  try {
    const value = JSON.parse(line) as Partial<Anchor>;
    if (
      value.v === 1 &&
      typeof value.schema === 'string' &&
      typeof value.at === 'string' &&
      typeof value.count === 'number' &&
      typeof value.headId === 'number' &&
      typeof value.head === 'string' &&
      typeof value.sealedThrough === 'number' &&
      typeof value.reason === 'string' &&
      typeof value.keyId === 'string' &&
      typeof value.mac === 'string'
    )
      return value as Anchor;
  } catch {
    // A torn line: the anchor before it counts.
  }
  return undefined;
}
