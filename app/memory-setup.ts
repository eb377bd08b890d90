import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Queryable } from '../db/database.ts';
import type { Embedder } from '../memory/embedder.ts';
import { LocalEmbedder } from '../memory/local-embedder.ts';
import { PgvectorMemoryStore, SERVER_SEARCH_SETTINGS } from '../memory/pgvector-memory-store.ts';
import { ProvenanceSigner } from '../memory/provenance-signer.ts';
import type { Config } from './config.ts';

/**
 * The key connector memories are signed with: SPINE_SIGNING_KEY, or one generated on first start
 * and kept (mode 0600) in `<SPINE_DATA_DIR>/signing.key`, so signatures survive restarts.
 */
export function resolveSigningKey(config: Config, logger: Logger): string {
  if (config.memory.signingKey) return config.memory.signingKey;
  const file = config.memory.signingKeyFile;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const generated = randomBytes(32).toString('base64url');
  const key = keepFirstKey(file, generated);
  if (key === generated)
    logger.info({ file }, 'generated a memory signing key (set SPINE_SIGNING_KEY to choose your own)');
  return key;
}

/** What link() says on file systems that have no hard links (some network and FAT mounts). */
const NO_HARD_LINKS = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'];

/**
 * Write `key` to `file` unless another process already did, and return the key the file holds.
 * Processes sharing a data directory (a chat and its workers) start together: every one must
 * end up with the same key, none may crash on the file existing, and none may read it half written.
 * So the key is written in full under a private name and then linked into place, which fails when
 * the name exists.
 */
export function keepFirstKey(file: string, key: string): string {
  const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(draft, `${key}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    return key;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    if (NO_HARD_LINKS.includes(code)) return createOnce(file, key);
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
}

/** Without hard links: an exclusive create (a process starting at the same instant may read it half written). */
function createOnce(file: string, key: string): string {
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
}

/** The embedder the config asks for: the local one by default, or a LangChain provider. */
export async function createEmbedder(config: Config): Promise<Embedder> {
  const embeddings = config.memory.embeddings;
  if (embeddings.provider === 'local') return new LocalEmbedder({ dimension: embeddings.dimensions });
  // Loaded only when configured: the OpenAI client is heavy to import and the default never needs it.
  const { LangChainEmbedder } = await import('../memory/langchain-embedder.ts');
  return LangChainEmbedder.create({
    provider: embeddings.provider,
    model: embeddings.model,
    baseUrl: embeddings.baseUrl,
    apiKey: embeddings.apiKey,
  });
}

/**
 * Build the memory store, record its embedder, and say whether a re-embed job is needed and whether
 * sketches are missing (memories stored before migration 021).
 */
export async function createMemoryStore(
  config: Config,
  db: Queryable,
  clock: Clock,
  logger: Logger,
  databaseKind: 'embedded' | 'server' = 'embedded',
): Promise<{ memory: PgvectorMemoryStore; reembedNeeded: boolean; sketchesNeeded: boolean }> {
  const embedder = await createEmbedder(config);
  const signer = new ProvenanceSigner(resolveSigningKey(config, logger));
  const memory = new PgvectorMemoryStore(db, {
    embedder,
    signer,
    clock,
    ...(databaseKind === 'server' ? SERVER_SEARCH_SETTINGS : {}),
  });
  const { reembedNeeded, sketchesNeeded } = await memory.init();
  if (reembedNeeded)
    logger.info({ embedder: embedder.id }, 'the embedder changed: memories will be re-embedded');
  if (sketchesNeeded)
    logger.info('memories without a search sketch: the memory sweep will write them in the background');
  return { memory, reembedNeeded, sketchesNeeded };
}
