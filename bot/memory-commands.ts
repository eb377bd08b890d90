import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { Channel, ThreadRef } from '../core/domain.ts';
import { describeError } from '../core/errors.ts';
import type { ChatSender } from '../core/message.ts';
import type { Queryable } from '../db/database.ts';
import { ingestDocument } from '../memory/document-ingest.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';

export interface MemoryCommandDeps {
  db: Queryable;
  memory: PgvectorMemoryStore;
  chat: ChatSender;
  clock: Clock;
  /** Largest shared document accepted (default 20 MB, Telegram's download limit). */
  maxFileBytes?: number;
}

/** A document shared in chat, as the adapter hands it over: downloaded only when it is accepted. */
export interface SharedFile {
  name: string;
  /** Bytes, when the platform says. */
  size: number | null;
  /** Where it was shared (`telegram:12345/678`, a Slack permalink): the memory's source reference. */
  link: string;
  download(): Promise<Uint8Array>;
}

const DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024;

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function dateLabel(iso: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  }).format(new Date(iso));
}

/** The chat side of memory: `forget` (with confirmation), `ingest <path>`, and progress for `status`. */
export class MemoryCommands {
  readonly #deps: MemoryCommandDeps;

  constructor(deps: MemoryCommandDeps) {
    this.#deps = deps;
  }

  /** Show what `forget <query>` would delete and ask for a confirmation; deletes nothing yet. */
  async forget(operatorId: number, query: string, thread: ThreadRef): Promise<void> {
    const found = await this.#deps.memory.forgetPreview(operatorId, query);
    if (found.length === 0) {
      await this.#say(thread, `I don't remember anything about "${query}", so there is nothing to forget.`);
      return;
    }
    const request = await this.#deps.db.query(
      `INSERT INTO memory_forget_requests (operator_id, query, memory_ids, created_at) VALUES ($1, $2, $3, $4)
       RETURNING id`,
      [operatorId, query, found.map((pointer) => pointer.id), this.#deps.clock.now()],
    );
    const id = Number(request.rows[0]?.id);
    const lines = found.map(
      (pointer) => `• ${pointer.snippet} (memory #${pointer.id}, ${dateLabel(pointer.occurredAt)})`,
    );
    await this.#say(
      thread,
      [
        `I would forget ${found.length === 1 ? 'this memory' : `these ${found.length} memories`}:`,
        ...lines,
        `Reply \`forget confirm #${id}\` to forget ${found.length === 1 ? 'it' : 'them'}, or \`forget cancel #${id}\` to keep ${found.length === 1 ? 'it' : 'them'}.`,
      ].join('\n'),
    );
  }

  /** Confirm or cancel a forget request (the latest pending one when no id is given). */
  async decide(
    operatorId: number,
    requestId: number | null,
    confirm: boolean,
    thread: ThreadRef,
  ): Promise<void> {
    const found = await this.#deps.db.query(
      `SELECT id, query, memory_ids FROM memory_forget_requests
       WHERE operator_id = $1 AND status = 'pending' AND ($2::bigint IS NULL OR id = $2)
       ORDER BY id DESC LIMIT 1`,
      [operatorId, requestId],
    );
    const request = found.rows[0];
    if (!request) {
      await this.#say(
        thread,
        requestId === null
          ? 'Nothing is waiting to be forgotten. Say `forget <what>` first.'
          : `There is no forget request #${requestId} waiting.`,
      );
      return;
    }
    const decided = await this.#deps.db.query(
      `UPDATE memory_forget_requests SET status = $2, decided_at = $3 WHERE id = $1 AND status = 'pending' RETURNING id`,
      [request.id, confirm ? 'done' : 'cancelled', this.#deps.clock.now()],
    );
    if (decided.rows.length === 0) return;
    if (!confirm) {
      await this.#say(thread, `Kept everything about "${String(request.query)}".`);
      return;
    }
    const ids = (request.memory_ids as Array<number | string>).map(Number);
    const deleted = await this.#deps.memory.forget(operatorId, ids);
    await this.#say(
      thread,
      `Forgotten: ${deleted} ${deleted === 1 ? 'memory' : 'memories'} about "${String(request.query)}".`,
    );
  }

  /** Read a local file into memory, showing progress. Only the console may name local files. */
  async ingest(operatorId: number, path: string, channel: Channel, thread: ThreadRef): Promise<void> {
    if (channel !== 'console') {
      await this.#say(
        thread,
        'I can only read local files from the console. Share the file in this chat instead.',
      );
      return;
    }
    const file = resolve(path);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      await this.#say(
        thread,
        `I could not open ${file}: ${(error as Error).message}. Check the path and try again.`,
      );
      return;
    }
    await this.#ingestBytes(operatorId, basename(file), bytes, { sourceRef: file }, thread);
  }

  /**
   * A document the operator shared in chat (Slack file, Telegram document): downloaded, then stored
   * like `ingest <path>`, with progress in the thread. Its source points back to the chat message.
   */
  async ingestShared(operatorId: number, file: SharedFile, thread: ThreadRef): Promise<void> {
    const limit = this.#deps.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (file.size !== null && file.size > limit) {
      await this.#say(
        thread,
        `${file.name} is too large for me (${megabytes(file.size)}; the limit is ${megabytes(limit)}). ` +
          'Split it, or save it on this machine and use `ingest <path>` in the console.',
      );
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = await file.download();
    } catch (error) {
      await this.#say(
        thread,
        `I could not download ${file.name}: ${describeError(error)}. Please share it again.`,
      );
      return;
    }
    if (bytes.length > limit) {
      await this.#say(thread, `${file.name} is too large for me (the limit is ${megabytes(limit)}).`);
      return;
    }
    await this.#ingestBytes(operatorId, file.name, bytes, { sourceRef: file.link }, thread);
  }

  async #ingestBytes(
    operatorId: number,
    name: string,
    bytes: Uint8Array,
    source: { sourceRef: string },
    thread: ThreadRef,
  ): Promise<void> {
    await this.#say(thread, `Reading ${name} (${bytes.length.toLocaleString('en')} bytes)…`);
    try {
      const result = await ingestDocument(this.#deps.memory, {
        operatorId,
        name,
        bytes,
        provenance: { source: `document:${name}`, sourceRef: source.sourceRef, assertedBy: 'operator' },
        occurredAt: this.#deps.clock.now(),
        onProgress: async ({ stage, done, total }) => {
          if (stage === 'read') await this.#say(thread, `${name}: ${total} parts to store.`);
          else if (done < total) await this.#say(thread, `${name}: stored ${done} of ${total} parts…`);
        },
      });
      await this.#say(
        thread,
        `Done: ${name} is in my memory (${result.format}, ${result.characters.toLocaleString('en')} characters, ` +
          `${result.chunks} parts, memory #${result.document.id}). Ask me about it with \`recall <question>\`.`,
      );
    } catch (error) {
      await this.#say(thread, `I could not ingest ${name}: ${describeError(error)}`);
    }
  }

  /** A line for `status` while memories are being re-embedded, or null. */
  async progressLine(): Promise<string | null> {
    const result = await this.#deps.db.query(
      `SELECT id, done, total FROM memory_embedders WHERE state = 'pending' ORDER BY updated_at DESC LIMIT 1`,
    );
    const row = result.rows[0];
    if (!row) return null;
    const total = Number(row.total);
    const done = Number(row.done);
    const percent = total > 0 ? Math.floor((100 * done) / total) : 0;
    return `Memory: re-embedding with ${String(row.id)} — ${done} of ${total} (${percent}%).`;
  }

  async #say(thread: ThreadRef, text: string): Promise<void> {
    await this.#deps.chat.post(thread, { text });
  }
}
