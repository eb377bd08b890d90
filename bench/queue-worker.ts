/**
 * A worker process for the queue benchmark: `raw` runs a bare BullMQ worker with a no-op
 * processor; `spine` / `spine-postgres` run Spine's BullWorker (group lock in Redis / Postgres,
 * handler dispatch) with a no-op handler. Prints "ready" once listening; exits on SIGTERM.
 */
import { Worker } from 'bullmq';
import pino from 'pino';
import { openDatabase } from '../db/database.ts';
import { BullWorker } from '../jobs/bullmq-worker.ts';
import { PostgresGroupLock } from '../jobs/group-lock.ts';
import { QUEUE_NAME } from '../jobs/queue-names.ts';
import { RedisGroupLock } from '../jobs/redis-group-lock.ts';

const [mode, prefix, concurrencyText, redisUrl, databaseUrl, schema] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
let close: () => Promise<void>;
if (mode === 'raw') {
  const worker = new Worker(QUEUE_NAME, async () => {}, {
    connection: { url: redisUrl, maxRetriesPerRequest: null },
    prefix,
    concurrency,
  });
  await worker.waitUntilReady();
  close = () => worker.close();
} else {
  const db = await openDatabase({
    url: databaseUrl,
    dataDir: '',
    schema: schema ?? 'public',
    maxConnections: concurrency + 2,
  });
  const worker = new BullWorker({
    redisUrl: redisUrl ?? '',
    prefix: prefix ?? '',
    concurrency,
    lockDurationMs: 30_000,
    stalledIntervalMs: 30_000,
    maxStalledCount: 2,
    handler: async () => {},
    onFailed: async () => {},
    groupLock:
      mode === 'spine-postgres'
        ? new PostgresGroupLock(db.pool, db.schema)
        : new RedisGroupLock({ redisUrl: redisUrl ?? '', prefix: prefix ?? '', leaseMs: 30_000 }),
    logger: pino({ level: 'silent' }),
  });
  await worker.worker.waitUntilReady();
  close = async () => {
    await worker.close();
    await db.close();
  };
}
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  close().then(() => process.exit(0));
});
