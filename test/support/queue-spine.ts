import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../app/config.ts';
import type { ProcessRole } from '../../app/queue-mode.ts';
import { createSpine, type Spine } from '../../app/spine.ts';
import type { Clock } from '../../core/clock.ts';
import type { Database } from '../../db/database.ts';
import { RecordingChat } from '../fakes/recording-chat.ts';
import { TEST_DATABASE_URL } from './databases.ts';

/** The Redis the setup script runs (shared: tests only ever touch keys under their own prefix). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue prefix no other test uses, hash-tagged like the default. */
export function uniquePrefix(): string {
  return `{t${randomUUID().slice(0, 12)}}`;
}

/** The environment of a queue-mode Spine (in this process or a child) on a test schema and prefix. */
export function queueEnv(input: {
  schema: string;
  prefix: string;
  redisUrl?: string;
  dataDir?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    DATABASE_URL: TEST_DATABASE_URL,
    SPINE_DB_SCHEMA: input.schema,
    REDIS_URL: input.redisUrl ?? TEST_REDIS_URL,
    SPINE_QUEUE_PREFIX: input.prefix,
    SPINE_DATA_DIR: input.dataDir ?? mkdtempSync(join(tmpdir(), 'spine-queue-')),
    SPINE_OPERATOR_NAME: 'Ada',
    SPINE_TIMEZONE: 'UTC',
    // Fast stalled-job recovery so a killed worker's job moves on within seconds.
    SPINE_QUEUE_LOCK_MS: '2000',
    SPINE_QUEUE_STALLED_INTERVAL_MS: '1000',
    SPINE_JOB_BACKOFF_MS: '100',
    SPINE_RECOVERY_INTERVAL_MS: '500',
    ...input.extra,
  };
}

export interface QueueSpine {
  spine: Spine;
  chat: RecordingChat;
  env: Record<string, string>;
  /** Say something in the console as the operator (does not wait). */
  send(text: string): Promise<void>;
}

/** A queue-mode Spine in this process: `main` (with a recording chat) or `worker`. */
export async function createQueueSpine(
  db: Database,
  options: {
    prefix: string;
    role: ProcessRole;
    redisUrl?: string;
    env?: Record<string, string>;
    clock?: Clock;
  },
): Promise<QueueSpine> {
  const env = queueEnv({
    schema: db.schema,
    prefix: options.prefix,
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    ...(options.env ? { extra: options.env } : {}),
  });
  const spine = await createSpine(loadConfig(env), {
    logger: pino({ level: 'silent' }),
    database: { ...db, close: async () => {} },
    role: options.role,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const chat = new RecordingChat();
  if (options.role === 'main') spine.registerAdapter('console', chat);
  return {
    spine,
    chat,
    env,
    async send(text: string) {
      await spine.intake.handleMessage({
        channel: 'console',
        deliveryId: randomUUID(),
        userId: 'local',
        text,
        thread: { channel: 'console', conversation: 'local' },
      });
    },
  };
}

/** Delete every key under a queue prefix (the shared Redis is never flushed as a whole). */
export async function deletePrefix(prefix: string, redisUrl = TEST_REDIS_URL): Promise<number> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** Poll `check` until it is true (bounded). */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
