import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HumanMessage } from '@langchain/core/messages';
import type { BaseCheckpointSaver } from '@langchain/langgraph';
import type { Logger } from 'pino';
import type { HttpRoute } from '../bot/http-route.ts';
import { PlaybookCommands as Commands, type PlaybookCommands } from '../bot/playbook-commands.ts';
import { playbookWebhookRoute } from '../bot/playbook-webhook.ts';
import { describeError } from '../core/errors.ts';
import type { InboundSink } from '../core/inbound.ts';
import type { JobQueue } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import type { Queryable } from '../db/database.ts';
import type { GoalGraphDeps } from '../graphs/goal/deps.ts';
import type { ModelGateway } from '../graphs/models/model-gateway.ts';
import { proposePlaybook } from '../graphs/playbook/propose.ts';
import { PlaybookJobs } from '../jobs/playbook-jobs.ts';
import { parsePlaybook } from '../playbooks/playbook-parse.ts';
import { PlaybookStore, type StoredPlaybook } from '../playbooks/playbook-store.ts';
import { cronOf } from '../playbooks/schedule-pattern.ts';
import { shadowReport, simulateRun } from '../playbooks/shadow.ts';
import { PlaybookTriggers } from '../playbooks/triggers.ts';

/** Everything playbooks add to a Spine. */
export interface PlaybooksSetup {
  store: PlaybookStore;
  triggers: PlaybookTriggers;
  jobs: PlaybookJobs;
  commands: PlaybookCommands;
  /** Inbound sources (IMAP, Stripe) hand their events here. */
  sink: InboundSink;
  routes: HttpRoute[];
}

/** Build the playbook store, triggers, graph runner and commands, and load `<data dir>/playbooks/*.yaml`. */
export async function setupPlaybooks(input: {
  db: Queryable;
  dataDir: string;
  operatorId: number;
  goalDeps: GoalGraphDeps;
  checkpointer: BaseCheckpointSaver;
  chat: ChatSender;
  queue: () => JobQueue;
  gateway: ModelGateway | null;
  onChanged?: (playbook: StoredPlaybook) => Promise<void>;
  publicUrl?: string;
}): Promise<PlaybooksSetup> {
  const { goalDeps, logger } = { goalDeps: input.goalDeps, logger: input.goalDeps.logger };
  const store = new PlaybookStore(input.db);
  const shadowDeps = {
    store,
    connectors: goalDeps.connectors,
    memory: goalDeps.memory,
    clock: goalDeps.clock,
  };
  const triggers: PlaybookTriggers = new PlaybookTriggers({
    store,
    repos: goalDeps.repos,
    queue: input.queue,
    clock: goalDeps.clock,
    logger,
    // Live shadow: simulate, and tell the operator what it would have done.
    shadowRun: async (playbook, trigger) => {
      const parsed = parsePlaybook(playbook.current.source).playbook;
      const run = await simulateRun(
        shadowDeps,
        parsed,
        playbook.operatorId,
        await triggers.timezoneOf(playbook.operatorId),
        trigger,
      );
      await input.chat.post(await triggers.homeThread(playbook.operatorId), {
        text: shadowReport(playbook.name, 0, [run]).replace('over the last 0 days', 'live'),
      });
    },
  });
  const gateway = input.gateway;
  const jobs = new PlaybookJobs({
    store,
    graphDeps: {
      ...goalDeps,
      store,
      draftWithModel: gateway
        ? async (prompt, goalId) => {
            const answer = await gateway.invoke({
              role: 'small',
              purpose: 'playbook-draft',
              messages: [new HumanMessage(prompt)],
              operatorId: input.operatorId,
              goalId,
            });
            return typeof answer.message.content === 'string'
              ? answer.message.content
              : JSON.stringify(answer.message.content);
          }
        : undefined,
    },
    checkpointer: input.checkpointer,
    triggers,
    logger,
  });
  const example = await readFile(
    new URL('../playbooks/examples/unpaid-invoice-reminders.yaml', import.meta.url),
    'utf8',
  ).catch(() => '');
  const commands = new Commands({
    store,
    triggers,
    connectors: goalDeps.connectors,
    memory: goalDeps.memory,
    chat: input.chat,
    clock: goalDeps.clock,
    onChanged: input.onChanged,
    publicUrl: input.publicUrl,
    propose: gateway
      ? (description, operatorId) =>
          proposePlaybook(gateway, {
            description,
            operatorId,
            example,
            connectors: goalDeps.connectors.connectors.flatMap((connector) =>
              Object.keys(connector.operations).map((operation) => `${connector.name}.${operation}`),
            ),
          })
      : undefined,
  });
  await loadFolder(join(input.dataDir, 'playbooks'), store, input.operatorId, logger);
  return {
    store,
    triggers,
    jobs,
    commands,
    sink: triggers.sink,
    routes: [playbookWebhookRoute({ store, sink: triggers.sink, clock: goalDeps.clock, logger })],
  };
}

/** Each `*.yaml` of the folder becomes (a new version of) a playbook; an invalid file is logged, not fatal. */
async function loadFolder(
  folder: string,
  store: PlaybookStore,
  operatorId: number,
  logger: Logger,
): Promise<void> {
  const files = await readdir(folder).catch(() => [] as string[]);
  for (const file of files.filter((name) => /\.ya?ml$/i.test(name)).sort()) {
    try {
      const parsed = parsePlaybook(await readFile(join(folder, file), 'utf8'), file);
      await store.saveVersion({
        operatorId,
        name: parsed.playbook.name,
        source: parsed.source,
        hash: parsed.hash,
        origin: `file:${file}`,
      });
    } catch (error) {
      logger.warn({ file, err: describeError(error) }, 'a playbook file is not valid; skipped');
    }
  }
}

/**
 * Start the schedule check: every minute in both modes (catch-up and `wait` wake-ups), plus, in queue
 * mode, one BullMQ job scheduler per enabled scheduled playbook (cron, time zone). Returns the stop.
 */
export async function startPlaybookSchedules(input: {
  setup: PlaybooksSetup;
  jobs: JobQueue;
  now: () => Date;
  logger: Logger;
  upsertScheduler?: (playbookId: number, schedule: { pattern: string; tz: string } | null) => Promise<void>;
  everyMs?: number;
}): Promise<() => void> {
  if (input.upsertScheduler) {
    for (const playbook of await input.setup.store.list())
      await input.upsertScheduler(playbook.id, await schedulerOf(input.setup, playbook));
  }
  const tick = () => {
    const minute = Math.floor(input.now().getTime() / 60_000);
    input.jobs.enqueue({ name: 'playbook-due', data: { at: String(minute) } }).catch((error: unknown) => {
      input.logger.warn({ err: describeError(error) }, 'playbook schedule check failed');
    });
  };
  tick();
  const timer = setInterval(tick, input.everyMs ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The BullMQ schedule of a playbook: its cron and time zone when it is enabled and scheduled. */
export async function schedulerOf(
  setup: PlaybooksSetup,
  playbook: StoredPlaybook,
): Promise<{ pattern: string; tz: string } | null> {
  if (!playbook.enabled) return null;
  const parsed = parsePlaybook(playbook.current.source).playbook;
  if (!('schedule' in parsed.trigger)) return null;
  return {
    pattern: cronOf(parsed.trigger.schedule),
    tz: parsed.trigger.schedule.timezone ?? (await setup.triggers.timezoneOf(playbook.operatorId)),
  };
}
