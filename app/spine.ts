import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import type { Logger } from 'pino';
import { ChatRouter } from '../bot/chat-router.ts';
import { Intake } from '../bot/intake.ts';
import { ConnectorRuntime } from '../connectors/connector-runtime.ts';
import { createEmailConnector } from '../connectors/email/email-connector.ts';
import { FileEmailTransport } from '../connectors/email/file-transport.ts';
import { createMemoryConnector } from '../connectors/memory-connector.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Channel, Operator } from '../core/domain.ts';
import { describeError } from '../core/errors.ts';
import type { SpineJob } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import { type Database, openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import { offlinePlanner } from '../graphs/agents/synthesizer.ts';
import { buildGoalGraph, type GoalGraph } from '../graphs/goal/graph.ts';
import { goalOf, handleJob } from '../jobs/goal-jobs.ts';
import { InProcessRunner } from '../jobs/in-process-runner.ts';
import { handleMemoryJob, isMemoryJob } from '../jobs/memory-jobs.ts';
import { recoverUnfinishedWork } from '../jobs/recovery.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';
import type { Config } from './config.ts';
import { createMemoryStore } from './memory-setup.ts';

/** A running Spine: everything built from the config, and the one place that shuts it down. */
export interface Spine {
  config: Config;
  db: Database;
  repos: Repositories;
  operator: Operator;
  chat: ChatRouter;
  intake: Intake;
  runner: InProcessRunner;
  graph: GoalGraph;
  connectors: ConnectorRuntime;
  logger: Logger;
  memory: PgvectorMemoryStore;
  /** Register a chat adapter for a channel (before `recover`, so recovered goals can reply). */
  registerAdapter(channel: Channel, sender: ChatSender): void;
  /** Re-enqueue work a crash left unfinished. */
  recover(): Promise<number>;
  close(): Promise<void>;
}

export interface SpineOptions {
  logger: Logger;
  clock?: Clock;
  /** An already-open database (tests); by default Spine opens the one in the config. */
  database?: Database;
}

/**
 * The composition root: config → database (migrated) → repositories → memory → connectors →
 * goal graph (Postgres checkpointer on the same database) → runner → intake.
 */
export async function createSpine(config: Config, options: SpineOptions): Promise<Spine> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const db =
    options.database ??
    (await openDatabase({
      url: config.database.url,
      dataDir: config.database.dataDir,
      schema: config.database.schema,
    }));
  try {
    const applied = await migrate(db.pool, db.schema);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    const checkpointer = new PostgresSaver(db.pool, undefined, { schema: db.schema });
    await checkpointer.setup();

    const repos = createRepositories(db.pool);
    const operator = await repos.operators.ensureOwner({
      name: config.operator.name,
      timezone: config.operator.timezone,
      probationDays: config.operator.probationDays,
      identities: [{ channel: 'console', externalId: 'local', displayName: config.operator.name }],
      now: clock.now(),
    });

    const { memory, reembedNeeded } = await createMemoryStore(config, db.pool, clock, logger);
    const connectors = new ConnectorRuntime(
      [
        createMemoryConnector(memory),
        createEmailConnector({
          from: config.email.from,
          transport: new FileEmailTransport(config.email.outboxDir),
          clock,
        }),
      ],
      { actions: repos.actions, logger },
    );
    const chat = new ChatRouter(logger);
    const graph = buildGoalGraph(
      { repos, memory, connectors, chat, planner: offlinePlanner, clock, logger },
      checkpointer,
    );

    const jobDeps = { graph, repos, logger };
    const memoryJobDeps = { memory, repos, clock, logger };
    const runner = new InProcessRunner({
      handler: (job) => (isMemoryJob(job) ? handleMemoryJob(memoryJobDeps, job) : handleJob(jobDeps, job)),
      groupOf: goalOf,
      logger,
      onFailed: (job, error) => recordJobFailure(repos, chat, job, error),
    });
    const intake = new Intake({ pool: db.pool, queue: runner, chat, clock, logger, memory });
    if (reembedNeeded) {
      await runner.enqueue({ name: 'reembed-memories', data: { embedderId: memory.embedder.id } });
    }
    // Expired memories already vanish from retrieval; the hourly sweep deletes them.
    const sweep = setInterval(() => {
      const at = clock.now().toISOString().slice(0, 13);
      runner.enqueue({ name: 'sweep-memories', data: { at } }).catch(() => {});
    }, 3_600_000);
    sweep.unref();

    let closed = false;
    return {
      config,
      db,
      repos,
      operator,
      chat,
      intake,
      runner,
      graph,
      connectors,
      logger,
      memory,
      registerAdapter: (channel, sender) => chat.register(channel, sender),
      recover: () => recoverUnfinishedWork(repos, runner, logger),
      async close() {
        if (closed) return;
        closed = true;
        clearInterval(sweep);
        await runner.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}

/** A job that failed all its attempts becomes a failure object, and the operator is told. */
async function recordJobFailure(
  repos: Repositories,
  chat: ChatSender,
  job: SpineJob,
  error: unknown,
): Promise<void> {
  if (!('goalId' in job.data)) return;
  const goal = await repos.goals.get(job.data.goalId);
  if (!goal) return;
  await repos.goals.setStatus(goal.id, 'failed');
  const message = `Goal #${goal.id} stopped because of an error: ${describeError(error)}`;
  await repos.failures.insert({
    goalId: goal.id,
    actionId: null,
    operatorId: goal.operatorId,
    kind: 'job_failed',
    message,
    evidence: { job: job.name },
    remediation: ['retry', 'dismiss'],
  });
  await repos.events.append({
    operatorId: goal.operatorId,
    actor: 'spine',
    verb: 'could not finish',
    object: `goal #${goal.id}`,
    why: describeError(error),
    goalId: goal.id,
  });
  await chat.post(goal.thread, { text: `${message}. It is listed under \`status\`.` });
}
