import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CONSOLE_THREAD, ConsoleAdapter } from '../bot/console/console-adapter.ts';
import { SpineError } from '../core/errors.ts';
import { openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { createMetricsRegistry, metricsRoute } from '../ledger/prometheus.ts';
import { type ChatAdapters, createChatAdapters } from './chat-adapters.ts';
import { type Config, loadConfig, readEnvironment } from './config.ts';
import { configuredSecrets } from './configured-secrets.ts';
import { startHttpServer } from './http-server.ts';
import { commandFailures, commandRenormalize } from './ledger-cli.ts';
import { runGoalCli, runLogCli } from './ledger-commands.ts';
import { createLogger } from './logger.ts';
import { commandPlaybook } from './playbook-cli.ts';
import { commandDigest, commandQueue, commandWorker, queueHealth } from './queue-commands.ts';
import { createSpine, type Spine } from './spine.ts';

const USAGE = `Usage: spine <command> [options]

Commands:
  start            Run Spine: the HTTP server (health, /metrics, Slack/Telegram webhooks), every configured chat
                   adapter, and the console chat when run in a terminal
  chat             Talk to Spine in this terminal (also reads a scripted conversation from piped input)
  log [options]    Print the story of what happened, newest last (default 50 events). Filters:
                   --goal N --connector X --actor X --since D --until D --text T (D: today,
                   yesterday, 7d, 2026-11-20, ISO time); --page N --limit N --before ID; --json;
                   --verify checks the tamper-evident hash chain (exit code 1 when broken)
  goal <id> [--json]  A goal step by step: nodes, memory read, model calls and cost, approval, connector calls
  connectors       List the connectors with their operations and health (circuit state, last error)
  failures         List the open failures with their remedies (retry, undo, edit and retry, dismiss)
  renormalize --normalizer <name> [--apply]
                   Replay a normalizer's history through its current version: the facts that would
                   change (a dry run), written as new fact versions with --apply
  migrate          Apply database migrations and exit
  worker           Run jobs from the queue (queue mode: REDIS_URL and DATABASE_URL); any number of them
  queue            Show the queue: jobs per state, failed jobs with their reasons, workers, schedules
  digest --now     Send the digest now (not counted as the daily one)
  playbook …       Playbooks: list, show <name>, add <file.yaml>, enable|disable <name>, shadow <name> [days N], run <name>
  help             Show this help
  version          Print Spine's version

Configuration comes from the environment or a .env file: see README.md.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function logFile(config: Config): string {
  return join(config.database.dataDir, 'spine.log');
}

/** Close everything once on SIGINT/SIGTERM: finish running jobs, then exit. */
function onShutdown(logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: String(error) }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function runConsole(spine: Spine, interactive: boolean): Promise<void> {
  const adapter = new ConsoleAdapter({
    input: process.stdin,
    output: process.stdout,
    interactive,
    operatorName: spine.operator.name,
  });
  spine.registerAdapter('console', adapter);
  await spine.startBackground();
  await spine.settle();
  const pending = await spine.repos.approvals.listPending(spine.operator.id);
  if (interactive && pending.length > 0) {
    await adapter.post(CONSOLE_THREAD, {
      text: `${pending.length} approval${pending.length === 1 ? ' is' : 's are'} waiting for you: type \`status\` to see, \`approve\` or \`reject\` to answer the latest.`,
    });
  }
  await adapter.run(spine.intake, () => spine.settle());
}

async function commandChat(config: Config): Promise<void> {
  const logger = createLogger({
    secrets: configuredSecrets(config),
    level: config.logLevel,
    file: logFile(config),
  });
  const spine = await createSpine(config, { logger });
  onShutdown(logger, () => spine.close());
  try {
    await runConsole(spine, Boolean(process.stdin.isTTY));
  } finally {
    await spine.close();
  }
}

async function commandStart(config: Config): Promise<void> {
  const withConsole = Boolean(process.stdin.isTTY);
  const logger = createLogger({
    secrets: configuredSecrets(config),
    level: config.logLevel,
    file: withConsole ? logFile(config) : undefined,
  });
  const spine = await createSpine(config, { logger });
  let server: Server | undefined;
  let chat: ChatAdapters | undefined;
  const close = async () => {
    await chat?.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await spine.close();
  };
  onShutdown(logger, close);
  try {
    chat = await createChatAdapters(spine);
    server = await startHttpServer({
      port: config.port,
      db: spine.db,
      logger,
      health: queueHealth(spine),
      connectorHealth: () => spine.connectors.health(),
      // /healthz details and /metrics need it beyond loopback.
      metricsToken: config.metrics.token,
      routes: [
        ...chat.routes,
        ...spine.inbound.routes,
        ...spine.playbooks.routes,
        metricsRoute({
          registry: createMetricsRegistry({
            metrics: spine.businessMetrics,
            db: spine.db.pool,
            connectorHealth: () => spine.connectors.health(),
          }),
          token: config.metrics.token,
          logger,
        }),
      ],
      mounts: [spine.webConsole],
    });
    await chat.start();
  } catch (error) {
    await chat?.stop();
    await spine.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new SpineError(
        'http.port_in_use',
        `Port ${config.port} is already in use. Set PORT to a free port.`,
        {
          category: 'user',
        },
      );
    }
    throw error;
  }
  if (withConsole) {
    await runConsole(spine, true);
    await close();
    return;
  }
  await spine.startBackground();
  // Runs until SIGTERM/SIGINT.
}

async function commandLedger(config: Config, command: 'log' | 'goal', args: string[]): Promise<void> {
  const spine = await createSpine(config, {
    logger: createLogger({ secrets: configuredSecrets(config), level: 'warn', file: logFile(config) }),
  });
  try {
    const { output, exitCode } =
      command === 'log'
        ? await runLogCli(spine, args)
        : { output: await runGoalCli(spine, args), exitCode: 0 };
    process.stdout.write(`${output}\n`);
    process.exitCode = exitCode;
  } finally {
    await spine.close();
  }
}

/**
 * The connectors with their health. Circuit state lives in the running process: when a Spine answers
 * on PORT, its /healthz is used; otherwise the last recorded error of each connector comes from the database.
 */
type LiveHealth = Array<{ connector: string; circuit: string; lastError: string | null }>;

/** Connector health of a Spine running on this machine, or null when none answers. */
async function liveConnectorHealth(port: number): Promise<LiveHealth | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
    const body = (await response.json()) as { connectors?: LiveHealth };
    return body.connectors ?? null;
  } catch {
    return null;
  }
}

async function commandConnectors(config: Config): Promise<void> {
  const logger = createLogger({ secrets: configuredSecrets(config), level: 'warn', file: logFile(config) });
  const live = await liveConnectorHealth(config.port);
  let spine: Spine;
  try {
    spine = await createSpine(config, { logger });
  } catch (error) {
    // The embedded database belongs to the running Spine: its live health is all there is to show.
    if (!live) throw error;
    const lines = live.map(
      (entry) =>
        `• ${entry.connector}: circuit ${entry.circuit}${entry.lastError ? `, last error: ${entry.lastError}` : ''}`,
    );
    process.stdout.write(`Health from the running Spine on port ${config.port}:\n${lines.join('\n')}\n`);
    return;
  }
  try {
    const lines = [
      `Configuration: ${config.connectors.source ?? 'no spine.config.yaml (defaults: e-mail to the outbox folder)'}`,
      live
        ? `Health from the running Spine on port ${config.port}:`
        : 'No running Spine answered; showing the last recorded errors:',
    ];
    for (const connector of spine.connectors.connectors) {
      const operations = Object.values(connector.operations)
        .map(
          (operation) => `${operation.name} (${operation.risk}${operation.reversible ? ', undoable' : ''})`,
        )
        .join(', ');
      const health = live?.find((entry) => entry.connector === connector.name);
      const recorded = await spine.db.pool.query(
        `SELECT error, executed_at FROM actions WHERE connector = $1 AND status = 'failed' ORDER BY executed_at DESC NULLS LAST LIMIT 1`,
        [connector.name],
      );
      const lastError =
        health?.lastError ?? (recorded.rows[0]?.error as { message?: string } | undefined)?.message ?? null;
      lines.push(
        `• ${connector.name} — ${connector.description}
    operations: ${operations || 'none'}
` +
          `    circuit: ${health?.circuit ?? 'closed'}${
            lastError
              ? `
    last error: ${lastError}`
              : ''
          }`,
      );
    }
    for (const missing of spine.unavailableConnectors) {
      lines.push(`• ${missing.name} — UNAVAILABLE: ${missing.error}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await spine.close();
  }
}

async function commandMigrate(config: Config): Promise<void> {
  const db = await openDatabase({
    url: config.database.url,
    dataDir: config.database.dataDir,
    schema: config.database.schema,
  });
  try {
    const applied = await migrate(db.pool, db.schema);
    process.stdout.write(
      applied.length > 0 ? `Applied: ${applied.join(', ')}\n` : 'The database is up to date.\n',
    );
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command = 'help', ...args] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`spine ${version()}\n`);
    return;
  }
  const config = loadConfig(readEnvironment());
  switch (command) {
    case 'start':
      return commandStart(config);
    case 'chat':
      return commandChat(config);
    case 'log':
    case 'goal':
      return commandLedger(config, command, args);
    case 'migrate':
      return commandMigrate(config);
    case 'worker':
      return commandWorker(config, onShutdown);
    case 'queue':
      return commandQueue(config);
    case 'digest':
      return commandDigest(config, args, logFile(config));
    case 'connectors':
      return commandConnectors(config);
    case 'failures':
      return commandFailures(
        config,
        createLogger({ secrets: configuredSecrets(config), level: 'warn', file: logFile(config) }),
      );
    case 'renormalize':
      return commandRenormalize(
        config,
        args,
        createLogger({ secrets: configuredSecrets(config), level: 'warn', file: logFile(config) }),
      );
    case 'playbook':
      return commandPlaybook(
        config,
        args,
        createLogger({ secrets: configuredSecrets(config), level: 'warn', file: logFile(config) }),
      );
    default:
      throw new SpineError('cli.unknown_command', `Unknown command "${command}".\n\n${USAGE}`, {
        category: 'user',
      });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof SpineError && error.category === 'user') {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `Spine stopped because of an unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
