import { documentText } from './document-parser.ts';
import type { MemoryPointer, NewMemory, Provenance, Sensitivity } from './memory-store.ts';
import type { PgvectorMemoryStore } from './pgvector-memory-store.ts';

export interface DocumentInput {
  operatorId: number;
  /** The file name, shown in citations. */
  name: string;
  bytes: Uint8Array;
  provenance: Provenance;
  sensitivity?: Sensitivity | undefined;
  expiresAt?: Date | undefined;
  occurredAt?: Date | undefined;
  /** Called as chunks are stored: chat adapters show it ("stored 12 of 40 parts"). */
  onProgress?:
    | ((progress: { stage: 'read' | 'stored'; done: number; total: number }) => Promise<void> | void)
    | undefined;
}

export interface IngestedDocument {
  document: MemoryPointer;
  chunks: number;
  characters: number;
  format: string;
}

const CHUNK_TARGET = 900;
const CHUNK_OVERLAP = 150;
const BATCH = 50;

/**
 * Split text into chunks of about `target` characters at paragraph, then sentence, boundaries,
 * each starting with the end of the previous one so a fact cut in two is still found whole.
 */
export function chunkText(text: string, target = CHUNK_TARGET, overlap = CHUNK_OVERLAP): string[] {
  const pieces = text
    .split(/\n\s*\n/)
    .flatMap((paragraph) =>
      paragraph.length <= target ? [paragraph] : (paragraph.match(/[^.!?]+[.!?]*\s*/g) ?? [paragraph]),
    )
    .flatMap((piece) => {
      const parts: string[] = [];
      for (let start = 0; start < piece.length; start += target)
        parts.push(piece.slice(start, start + target));
      return parts;
    })
    .map((piece) => piece.replace(/\s+/g, ' ').trim())
    .filter((piece) => piece.length > 0);
  const chunks: string[] = [];
  let current = '';
  for (const piece of pieces) {
    if (current && current.length + piece.length + 1 > target) {
      chunks.push(current);
      const tail = current.slice(-overlap);
      current = `${tail.slice(tail.indexOf(' ') + 1)} ${piece}`;
    } else {
      current = current ? `${current} ${piece}` : piece;
    }
  }
  if (current) chunks.push(current);
  return chunks;
}

/**
 * Ingest a document: one `document` memory for the whole, and one per chunk pointing back to it
 * with its position. The function chat adapters call for a shared file, and `ingest <path>` uses.
 */
export async function ingestDocument(
  store: PgvectorMemoryStore,
  input: DocumentInput,
): Promise<IngestedDocument> {
  const { format, text } = await documentText(input.name, input.bytes);
  const chunks = chunkText(text);
  await input.onProgress?.({ stage: 'read', done: 0, total: chunks.length });
  const common = {
    operatorId: input.operatorId,
    provenance: input.provenance,
    sensitivity: input.sensitivity,
    expiresAt: input.expiresAt,
    occurredAt: input.occurredAt,
  };
  const document = await store.remember({
    ...common,
    kind: 'document',
    content: `${input.name}: ${text.slice(0, 240).replace(/\s+/g, ' ')}`,
    metadata: { title: input.name, format, chunks: chunks.length, characters: text.length },
  });
  for (let start = 0; start < chunks.length; start += BATCH) {
    const batch: NewMemory[] = chunks.slice(start, start + BATCH).map((chunk, offset) => ({
      ...common,
      kind: 'document',
      content: chunk,
      context: input.name,
      metadata: { title: input.name, documentId: document.id, chunkIndex: start + offset },
    }));
    await store.rememberMany(batch);
    await input.onProgress?.({
      stage: 'stored',
      done: Math.min(start + BATCH, chunks.length),
      total: chunks.length,
    });
  }
  return { document, chunks: chunks.length, characters: text.length, format };
}
