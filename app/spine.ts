import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import type { Logger } from 'pino';
import { ApprovalEditor } from '../bot/approval-edit.ts';
import { ChatRouter } from '../bot/chat-router.ts';
import { ConnectorCommands } from '../bot/connector-commands.ts';
import { Intake } from '../bot/intake.ts';
import type { CalendarProvider } from '../connectors/calendar/calendar-connector.ts';
import { ConnectorRuntime } from '../connectors/connector-runtime.ts';
import { createMemoryConnector } from '../connectors/memory-connector.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Channel, Operator, ThreadRef } from '../core/domain.ts';
import type { InboundSink } from '../core/inbound.ts';
import { type JobQueue, jobGroupOf } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import { type Database, openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { revokeUnlistedChatIdentities } from '../db/repositories/chat-identities.ts';
import { ChatOutboxRepository } from '../db/repositories/chat-outbox.ts';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import { LlmCacheRepository } from '../db/repositories/llm-cache.ts';
import { RetentionRepository } from '../db/repositories/retention.ts';
import { SingletonLeaseRepository } from '../db/repositories/singleton-leases.ts';
import { runtimeReader } from '../graphs/agents/planning-reads.ts';
import { runDueActions } from '../graphs/agents/scheduled-actions.ts';
import { buildDigestGraph, type DigestGraph } from '../graphs/digest/graph.ts';
import { buildGoalGraph, type GoalGraph } from '../graphs/goal/graph.ts';
import { digestProseWriter } from '../graphs/models/digest-prose.ts';
import { ActionScheduler } from '../jobs/action-scheduler.ts';
import { ApprovalExpirySweep } from '../jobs/approval-expiry.ts';
import { enqueueDueDigests } from '../jobs/digest-schedule.ts';
import { InProcessRunner } from '../jobs/in-process-runner.ts';
import { recordJobFailure } from '../jobs/job-failure.ts';
import { createJobHandler } from '../jobs/job-handler.ts';
import { handleMemoryJob, isMemoryJob, type Sweeper } from '../jobs/memory-jobs.ts';
import { recoverUnfinishedWork } from '../jobs/recovery.ts';
import { memoryScrubSweeper, RetentionSweep } from '../jobs/retention.ts';
import type { BusinessAlerts } from '../ledger/alerts.ts';
import { createBusinessLedger } from '../ledger/alerts-loop.ts';
import { type BusinessMetrics, describeBusinessDay } from '../ledger/business-metrics.ts';
import { FailureDesk } from '../ledger/failures.ts';
import type { LedgerWitness } from '../ledger/ledger-witness.ts';
import { NormalizingMemoryStore } from '../ledger/normalizers/normalizing-memory-store.ts';
import { NormalizerRegistry } from '../ledger/normalizers/registry.ts';
import { RenormalizeCommands } from '../ledger/renormalize-commands.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';
import { WebConsole } from '../web/web-console.ts';
import { type BuiltConnectors, buildConnectors } from './build-connectors.ts';
import { calendarSchedule } from './calendar-schedule.ts';
import type { Config } from './config.ts';
import { createInbound, type Inbound } from './inbound.ts';
import { ledgerGoalText } from './ledger-commands.ts';
import { createLedgerWitness } from './ledger-setup.ts';
import { createMemoryStore } from './memory-setup.ts';
import { createModels, type InjectedModels, type Models } from './model-wiring.ts';
import {
  type PlaybooksSetup,
  schedulerOf,
  setupPlaybooks,
  startPlaybookSchedules,
} from './playbooks-setup.ts';
import { type ProcessRole, QueueMode } from './queue-mode.ts';
import { holdStartupLock, type StartupLock } from './startup-lock.ts';
import { holdAfterConnectorCalls } from './test-hooks.ts';

/** How long the chat outbox keeps a message (a worker's card stays updatable that long). */
const CHAT_OUTBOX_KEEP_MS = 30 * 86_400_000;

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
  /** Undo, trust, cancel and failure remediation in chat. */
  connectorCommands: ConnectorCommands;
  /** The in-process timer of delayed execution (started by `recover`). */
  scheduler: ActionScheduler;
  /** Run the actions whose scheduled time has come (the due-check); 0 while another process runs it. */
  runDueActions(): Promise<number>;
  /** Expire the pending approvals whose time has run out (the sweep `recover` starts); how many. */
  expireApprovals(): Promise<number>;
  /** Today's events for the digest, when a calendar is configured. */
  calendar: CalendarProvider | undefined;
  /** Configured connectors that could not start. */
  unavailableConnectors: BuiltConnectors['unavailable'];
  logger: Logger;
  /** Language models: planner, gateway (null without a model), usage and cost. */
  models: Models;
  /** Memory: facts, notes, documents, episodes; layered retrieval. */
  memory: PgvectorMemoryStore;
  /** Failures with their remedies (retry, undo, edit and retry, dismiss): `failures`, `spine failures`. */
  failures: FailureDesk;
  /** The normalizers inbound fact values pass through (`spine renormalize`). */
  normalizers: NormalizerRegistry;
  /** Memory as chat and connectors write facts: values normalised, one event per normalisation. */
  facts: NormalizingMemoryStore;
  /** Register a chat adapter for a channel (before `recover`, so recovered goals can reply). */
  registerAdapter(channel: Channel, sender: ChatSender): void;
  /** Re-enqueue work a crash left unfinished. */
  recover(): Promise<number>;
  close(): Promise<void>;
  /** Where jobs go: the in-process runner, or BullMQ in queue mode. */
  jobs: JobQueue;
  /** Set in queue mode (REDIS_URL). */
  queueMode: QueueMode | undefined;
  digestGraph: DigestGraph;
  /**
   * Start the background work of a long-running process: recovery and the digest check now and
   * periodically; in queue mode the job schedulers (one digest cron per operator, maintenance).
   */
  startBackground(): Promise<void>;
  /** Wait until no job waits or runs (and, in queue mode, workers' replies are shown). */
  settle(): Promise<void>;
  /** Send a digest now, not counted as the daily one. */
  sendDigestNow(thread?: ThreadRef): Promise<void>;
  /** The web console, mounted under /console on the HTTP server. */
  webConsole: WebConsole;
  /** Time saved, errors introduced, approvals and spend per day (the digest, /metrics, the console). */
  businessMetrics: BusinessMetrics;
  /** Alerts on business thresholds (evaluated by startBackground's alert loop). */
  alerts: BusinessAlerts;
  /** Inbound e-mail (IMAP) and Stripe webhooks; `setSink` plugs in their consumer. */
  inbound: Inbound;
  /** Playbooks: store, triggers (and the inbound sink), runs, commands, webhook routes. */
  playbooks: PlaybooksSetup;
  /** MACs of new events with the ledger key, and signed anchors hourly and at shutdown (startBackground). */
  ledgerWitness: LedgerWitness;
}

export interface SpineOptions {
  logger: Logger;
  clock?: Clock;
  /** An already-open database (tests); by default Spine opens the one in the config. */
  database?: Database;
  /** In queue mode: `main` (chat + HTTP, the default) or `worker` (`spine worker`). */
  role?: ProcessRole;
  /** Chat models to use instead of the configured ones (tests and benchmarks). */
  models?: InjectedModels;
  /** Where inbound events (e-mail, Stripe) go; logged and dropped when unset. */
  inboundSink?: InboundSink;
  /**
   * Where jobs go instead of the in-process runner or the queue: the ingress benchmark counts them,
   * as in queue mode where workers in other processes run them.
   */
  jobQueue?: JobQueue;
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
  let startup: StartupLock | undefined;
  try {
    const applied = await migrate(db.pool, db.schema);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    // Connectors may connect to servers (MCP): before the start-up lock, which others wait on.
    const built = await buildConnectors(config, clock, logger);
    // Until the playbooks are loaded, other processes starting on this schema wait (startup-lock.ts).
    startup = await holdStartupLock(db);
    const checkpointer = new PostgresSaver(db.pool, undefined, { schema: db.schema });
    await checkpointer.setup();

    const repos = createRepositories(db.pool);
    const operator = await repos.operators.ensureOwner({
      name: config.operator.name,
      timezone: config.operator.timezone,
      probationDays: config.operator.probationDays,
      identities: [
        { channel: 'console', externalId: 'local', displayName: config.operator.name },
        ...config.owner.identities.map((identity) => ({ ...identity, displayName: config.operator.name })),
      ],
      now: clock.now(),
    });
    const revoked = await revokeUnlistedChatIdentities(db.pool, operator.id, config.owner.identities);
    if (revoked.length > 0) logger.warn({ revoked }, 'chat identities no longer in SPINE_OWNER were revoked');

    const { memory, reembedNeeded, sketchesNeeded } = await createMemoryStore(
      config,
      db.pool,
      clock,
      logger,
      db.kind,
    );
    const inbound = createInbound({
      config,
      db: db.pool,
      memory,
      operatorId: operator.id,
      logger,
      clock,
      sink: options.inboundSink,
    });
    const normalizers = new NormalizerRegistry();
    const facts = new NormalizingMemoryStore({ store: memory, registry: normalizers, db: db.pool, logger });
    const connectors = new ConnectorRuntime(
      [createMemoryConnector(facts), ...built.connectors].map((connector) =>
        options.role === 'worker' && config.queue?.testHoldStep === 'connector'
          ? (holdAfterConnectorCalls([connector], config.queue.testHoldMs)[0] ?? connector)
          : connector,
      ),
      {
        actions: repos.actions,
        logger,
        memory,
        resilience: config.connectors.resilience,
        ...(config.connectors.actionLeaseMs ? { leaseMs: config.connectors.actionLeaseMs } : {}),
        now: () => clock.now(),
      },
    );
    const guardrails = config.connectors.guardrails;
    const chat = new ChatRouter(logger);
    const ledgerWitness = createLedgerWitness({ config, db, clock, logger });
    const ledger = createBusinessLedger({
      db: db.pool,
      chat,
      clock,
      logger,
      minutesSaved: config.digest.minutesSaved,
      rules: config.connectors.alerts,
      dailyBudgetUsd: config.models.dailyBudgetUsd,
      health: () => connectors.health(),
    });
    const models = await createModels({
      config,
      db: db.pool,
      clock,
      logger,
      connectors,
      memory,
      reader: runtimeReader({ connectors, repos, guardrails: config.connectors.guardrails }),
      injected: options.models,
      notify: async (goalId, text) => {
        const goal = await repos.goals.get(goalId);
        if (goal) await chat.post(goal.thread, { text });
      },
    });
    const goalDeps = {
      repos,
      memory,
      connectors,
      chat,
      planner: models.planner,
      clock,
      logger,
      guardrails,
    };
    const graph = buildGoalGraph(goalDeps, checkpointer);
    const scheduler = new ActionScheduler({
      repos,
      // One due-check per deployment at a time, whatever the number of replicas.
      leases: new SingletonLeaseRepository(db.pool),
      runDue: (signal) => runDueActions(goalDeps, signal),
      clock,
      logger,
    });

    const digestGraph = buildDigestGraph({
      repos,
      chat,
      clock,
      logger,
      minutesSaved: (operatorId, since) => ledger.metrics.minutesSavedSince(operatorId, since),
      businessDay: async (operatorId, localDate) =>
        describeBusinessDay(await ledger.metrics.day(operatorId, localDate)),
      ...(built.calendar ? { schedule: calendarSchedule(built.calendar) } : {}),
      ...(models.gateway
        ? {
            modelUsage: async (operatorId: number) => (await models.usage.forDigest(operatorId)).line,
            prose: digestProseWriter({ gateway: models.gateway, guard: models.guard, logger }),
          }
        : {}),
    });
    await repos.digests.applyDefaultTime(config.digest.defaultTime);
    let jobQueue: JobQueue | undefined;
    const playbooks = await setupPlaybooks({
      db: db.pool,
      dataDir: config.database.dataDir,
      operatorId: operator.id,
      goalDeps,
      checkpointer,
      chat,
      queue: () => jobQueue ?? runner,
      gateway: models.gateway,
      publicUrl: config.publicUrl,
      onChanged: async (changed) =>
        queueMode?.queue.upsertPlaybookScheduler(changed.id, await schedulerOf(playbooks, changed)),
    });
    await startup.release();
    // Inbound e-mail and Stripe events trigger playbooks (unless a test passed its own sink).
    if (!options.inboundSink) inbound.setSink(playbooks.sink);
    const jobHandler = createJobHandler({
      playbooks: playbooks.jobs,
      goalGraph: graph,
      digestGraph,
      repos,
      chat,
      queue: () => jobQueue ?? runner,
      clock,
      logger,
      progressAfterMs: config.jobs.progressAfterMs,
      testHold:
        options.role === 'worker' && config.queue?.testHoldStep && config.queue.testHoldStep !== 'connector'
          ? { step: config.queue.testHoldStep, ms: config.queue.testHoldMs }
          : undefined,
    });
    // Memory jobs (re-embedding, the TTL sweep of memories and cached model answers) run on the same runners as goal and digest jobs.
    const llmCache = new LlmCacheRepository(db.pool);
    const chatOutbox = new ChatOutboxRepository(db.pool);
    const sweepers: Sweeper[] = [
      { what: 'cached model answers', sweep: (now) => llmCache.sweep(now) },
      // Queue mode's chat outbox: a worker's card can be updated in place for 30 days.
      {
        what: 'chat messages of the outbox',
        sweep: (now) => chatOutbox.sweep(new Date(now.getTime() - CHAT_OUTBOX_KEEP_MS)),
      },
    ];
    const memoryJobDeps = { memory, repos, clock, logger, sweepers };
    const handler: typeof jobHandler = (job, context) =>
      isMemoryJob(job) ? handleMemoryJob(memoryJobDeps, job) : jobHandler(job, context);
    const onFailed = async (job: Parameters<typeof handler>[0], error: unknown) => {
      await recordJobFailure(
        { repos, chat, logger, clock, undoWindowMs: guardrails.undoWindowMs },
        job,
        error,
      );
      // A failure may cross an alert threshold: evaluate now rather than at the next tick.
      ledger.tick();
    };
    const runner = new InProcessRunner({
      handler: (job) => handler(job),
      groupOf: jobGroupOf,
      logger,
      onFailed,
      attempts: config.jobs.attempts,
      backoffMs: config.jobs.backoffMs,
    });
    const queueMode = config.queue
      ? new QueueMode({
          config,
          queueConfig: config.queue,
          role: options.role ?? 'main',
          db,
          repos,
          chat,
          handler,
          onFailed,
          logger,
        })
      : undefined;
    await queueMode?.ready();
    jobQueue = options.jobQueue ?? queueMode?.queue ?? runner;
    const jobs = jobQueue;
    const intakeChat = queueMode?.intakeChat ?? chat;
    const approvalExpiry = new ApprovalExpirySweep({
      repos,
      queue: jobs,
      chat: intakeChat,
      clock,
      logger,
      expiry: config.connectors.approvalExpiry,
    });
    let intakeRef: Intake | undefined;
    const webConsole = new WebConsole({
      db: db.pool,
      clock,
      logger,
      baseUrl: config.publicUrl,
      buttons: { press: async (input) => (await intakeRef?.press(input)) ?? false },
      // Cards a worker posted are updated through the outbox's map of their names.
      editor: new ApprovalEditor({ pool: db.pool, connectors, chat: intakeChat, logger }),
      metrics: ledger.metrics,
      checkpointer,
    });
    sweepers.push({ what: 'console logins and sessions', sweep: (now) => webConsole.auth.sweep(now) });
    // Retention: the hourly memory sweep scrubs expired memories from checkpoints right after it
    // deletes them; main processes sweep old rows and finished goals' checkpoints daily.
    const retentionDeps = {
      repository: new RetentionRepository(db.pool),
      db: db.pool,
      checkpointer,
      settings: config.connectors.retention,
      logger,
    };
    sweepers.push(memoryScrubSweeper(retentionDeps));
    const retention = new RetentionSweep({
      ...retentionDeps,
      clock,
      leases: new SingletonLeaseRepository(db.pool),
    });
    const failures = new FailureDesk({
      repos,
      runtime: connectors,
      queue: jobs,
      chat: intakeChat,
      clock,
      logger,
      guardrails,
    });
    const connectorCommands = new ConnectorCommands({
      failures,
      repos,
      runtime: connectors,
      chat: intakeChat,
      clock,
      logger,
      guardrails,
      approve: async (input) =>
        (await intakeRef?.decide({ ...input, decision: 'approved' }))?.kind === 'decided',
    });
    const intake = new Intake({
      failures,
      renormalize: new RenormalizeCommands({
        db: db.pool,
        memory,
        registry: normalizers,
        clock,
        chat: intakeChat,
      }),
      pool: db.pool,
      queue: jobs,
      chat: intakeChat,
      clock,
      logger,
      onDigestTimeChanged: async (operatorId) => {
        const changed = await repos.digests.operator(operatorId);
        if (changed) await queueMode?.queue.upsertDigestScheduler(changed);
      },
      connectorCommands,
      memory,
      usageReport: (operatorId) => models.usage.text(operatorId),
      consoleLogin: (channel, userId) => webConsole.loginReply(channel, userId),
      goalForensics: (operatorId, goalId) =>
        ledgerGoalText({ db: db.pool, checkpointer }, repos, operatorId, goalId),
      playbooks: playbooks.commands,
      approvalExpiry: config.connectors.approvalExpiry,
      expireApproval: (approvalId, reason) => approvalExpiry.expire(approvalId, reason),
    });
    intakeRef = intake;
    // Workers only report their connector circuits; main processes evaluate (startBackground).
    if (options.role === 'worker') ledger.start(false);
    if (reembedNeeded) {
      await jobs.enqueue({ name: 'reembed-memories', data: { embedderId: memory.embedder.id } });
    }
    // Memories stored before migration 021 get their sketches from the sweep, started now.
    if (sketchesNeeded) {
      const at = `sketches-${clock.now().toISOString().slice(0, 16)}`;
      await jobs.enqueue({ name: 'sweep-memories', data: { at } });
    }
    // Expired memories already vanish from retrieval; the hourly sweep deletes them (and writes
    // any missing sketches).
    const sweep = setInterval(() => {
      const at = clock.now().toISOString().slice(0, 13);
      jobs.enqueue({ name: 'sweep-memories', data: { at } }).catch(() => {});
    }, 3_600_000);
    sweep.unref();
    const recover = async () => {
      const count = await recoverUnfinishedWork(repos, jobs, logger);
      scheduler.start();
      approvalExpiry.start();
      return count + (await enqueueDueDigests({ repos, queue: jobs, clock, logger }));
    };
    let digestTimer: NodeJS.Timeout | undefined;
    let stopPlaybookSchedules: (() => void) | undefined;

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
      connectorCommands,
      scheduler,
      runDueActions: async () => (await scheduler.runOnce()) ?? 0,
      expireApprovals: () => approvalExpiry.runOnce(),
      calendar: built.calendar,
      unavailableConnectors: built.unavailable,
      logger,
      models,
      memory,
      failures,
      normalizers,
      facts,
      registerAdapter: (channel, sender) => chat.register(channel, sender),
      recover,
      jobs,
      queueMode,
      digestGraph,
      webConsole,
      businessMetrics: ledger.metrics,
      alerts: ledger.alerts,
      inbound,
      playbooks,
      ledgerWitness,
      async startBackground() {
        await recover();
        retention.start();
        ledger.start(true);
        await ledgerWitness
          .start()
          .catch((error: unknown) =>
            logger.error({ err: String(error) }, 'the ledger witness did not start'),
          );
        inbound.start();
        stopPlaybookSchedules ??= await startPlaybookSchedules({
          setup: playbooks,
          jobs,
          now: () => clock.now(),
          logger,
          ...(queueMode
            ? { upsertScheduler: (id, schedule) => queueMode.queue.upsertPlaybookScheduler(id, schedule) }
            : {}),
        });
        if (queueMode) {
          for (const each of await repos.digests.operators())
            await queueMode.queue.upsertDigestScheduler(each);
          await queueMode.queue.upsertMaintenanceScheduler(config.digest.checkIntervalMs);
          queueMode.every(config.queue?.recoveryIntervalMs ?? 60_000, recover, logger);
        } else if (!digestTimer) {
          // The embedded default has no Redis: a timer checks for due digests (same unique row).
          digestTimer = setInterval(() => {
            enqueueDueDigests({ repos, queue: runner, clock, logger }).catch((error: unknown) =>
              logger.warn({ err: String(error) }, 'digest check failed'),
            );
          }, config.digest.checkIntervalMs);
          digestTimer.unref();
        }
      },
      async settle() {
        await runner.idle();
        if (queueMode) {
          await queueMode.queue.idle();
          // A job's messages are in the chat outbox before the job completes, but a failure card
          // may be written just after: wait until no new message comes (bounded), all shown.
          for (let quiet = 0, seen = -1, rounds = 0; quiet < 2 && rounds < 50; rounds += 1) {
            await queueMode.chatOutbox?.flush();
            const delivered = queueMode.chatOutbox?.delivered ?? 0;
            quiet = delivered === seen ? quiet + 1 : 0;
            seen = delivered;
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
        }
      },
      async sendDigestNow(thread) {
        await jobs.enqueue({
          name: 'send-digest',
          data: {
            operatorId: operator.id,
            requestId: `${clock.now().getTime()}`,
            ...(thread ? { thread } : {}),
          },
        });
      },
      async close() {
        if (closed) return;
        closed = true;
        if (digestTimer) clearInterval(digestTimer);
        ledger.stop();
        stopPlaybookSchedules?.();
        await scheduler.stop();
        await approvalExpiry.stop();
        await inbound.stop();
        await queueMode?.close();
        clearInterval(sweep);
        await retention.stop();
        await runner.close();
        await connectors.close();
        // The shutdown anchor, once every job's events are in.
        await ledgerWitness.stop();
        await db.close();
      },
    };
  } catch (error) {
    await startup?.release();
    await db.close().catch(() => {});
    throw error;
  }
}
