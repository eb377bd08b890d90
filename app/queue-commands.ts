import type { Logger } from 'pino';
import { CONSOLE_THREAD, ConsoleAdapter } from '../bot/console/console-adapter.ts';
import { SpineError } from '../core/errors.ts';
import type { Config } from './config.ts';
import { configuredSecrets } from './configured-secrets.ts';
import { createLogger } from './logger.ts';
import { createSpine, type Spine } from './spine.ts';

/** The queue-mode part of /healthz: Redis reachable with `noeviction`, workers, adapters. */
export function queueHealth(spine: Spine) {
  return async (): Promise<{ healthy: boolean; report: Record<string, unknown> }> => {
    const adapters = spine.chat.channels();
    if (!spine.queueMode) return { healthy: true, report: { mode: 'in-process', adapters } };
    const health = await spine.queueMode.queue.health();
    const evicting = health.maxmemoryPolicy !== null && health.maxmemoryPolicy !== 'noeviction';
    const healthy = health.redis === 'ok' && !evicting;
    return {
      healthy,
      report: {
        mode: 'queue',
        redis: health.redis,
        redisMaxmemoryPolicy: health.maxmemoryPolicy,
        ...(evicting
          ? {
              problem:
                'Redis may evict queue keys (maxmemory-policy is not noeviction): set maxmemory-policy noeviction.',
            }
          : {}),
        workers: health.workers,
        adapters,
      },
    };
  };
}

function needsQueueMode(config: Config, command: string): NonNullable<Config['queue']> {
  if (!config.queue) {
    throw new SpineError(
      'cli.needs_queue_mode',
      `spine ${command} works in queue mode: set REDIS_URL (and DATABASE_URL) to use it. ` +
        'Without REDIS_URL, `spine start` runs every job in its own process.',
      { category: 'user' },
    );
  }
  return config.queue;
}

/** `spine worker`: run jobs until SIGTERM, then finish the running ones and exit. */
export async function commandWorker(
  config: Config,
  onShutdown: (logger: Logger, close: () => Promise<void>) => void,
): Promise<void> {
  const queue = needsQueueMode(config, 'worker');
  const logger = createLogger({ secrets: configuredSecrets(config), level: config.logLevel });
  const spine = await createSpine(config, { logger, role: 'worker' });
  onShutdown(logger, () => spine.close());
  logger.info({ concurrency: queue.concurrency, prefix: queue.prefix }, 'worker ready');
  // Runs until SIGTERM/SIGINT.
}

/** `spine queue`: counts per state, failed jobs with reasons, workers and schedules. */
export async function commandQueue(config: Config): Promise<void> {
  needsQueueMode(config, 'queue');
  const logger = createLogger({ secrets: configuredSecrets(config), level: 'warn' });
  const spine = await createSpine(config, { logger });
  try {
    const report = await spine.queueMode!.queue.report();
    const lines = [
      `Jobs: ${Object.entries(report.counts)
        .map(([state, count]) => `${state} ${count}`)
        .join(', ')}`,
      `Workers: ${report.workers}`,
    ];
    if (report.schedulers.length > 0) {
      lines.push('Schedules:');
      for (const scheduler of report.schedulers) {
        lines.push(
          `  ${scheduler.id}: ${scheduler.pattern ?? 'every few minutes'}${scheduler.tz ? ` (${scheduler.tz})` : ''}` +
            `${scheduler.next ? `, next ${scheduler.next.toISOString()}` : ''}`,
        );
      }
    }
    if (report.failed.length > 0) {
      lines.push('Failed jobs:');
      for (const job of report.failed) {
        lines.push(`  ${job.id} (${job.name}, ${job.attempts} attempts): ${job.reason}`);
      }
    } else {
      lines.push('No failed jobs.');
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await spine.close();
  }
}

/** `spine digest --now`: send a digest now (not the daily one). */
export async function commandDigest(config: Config, args: string[], logFile: string): Promise<void> {
  if (!args.includes('--now')) {
    throw new SpineError(
      'cli.bad_argument',
      'Usage: spine digest --now  (the daily digest comes by itself; `digest at 7:30` in chat moves it)',
      { category: 'user' },
    );
  }
  const logger = createLogger({ secrets: configuredSecrets(config), level: config.logLevel, file: logFile });
  const spine = await createSpine(config, { logger });
  try {
    if (!spine.queueMode) {
      const adapter = new ConsoleAdapter({
        input: process.stdin,
        output: process.stdout,
        interactive: false,
        operatorName: spine.operator.name,
      });
      spine.registerAdapter('console', adapter);
      await spine.sendDigestNow(CONSOLE_THREAD);
      await spine.settle();
      return;
    }
    // Queue mode: a worker sends it to the operator's thread through the running `spine start`.
    await spine.sendDigestNow();
    process.stdout.write('The digest is on its way: a worker sends it to your chat.\n');
  } finally {
    await spine.close();
  }
}
