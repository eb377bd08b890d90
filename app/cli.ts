import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CONSOLE_THREAD, ConsoleAdapter } from '../bot/console/console-adapter.ts';
import { SpineError } from '../core/errors.ts';
import { openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { type ChatAdapters, createChatAdapters } from './chat-adapters.ts';
import { type Config, loadConfig, readEnvironment } from './config.ts';
import { startHttpServer } from './http-server.ts';
import { createLogger } from './logger.ts';
import { createSpine, type Spine } from './spine.ts';

const USAGE = `Usage: spine <command> [options]

Commands:
  start            Run Spine: the HTTP server (health, Slack/Telegram webhooks), every configured chat
                   adapter, and the console chat when run in a terminal
  chat             Talk to Spine in this terminal (also reads a scripted conversation from piped input)
  log [--limit N]  Print the story of what happened, newest last (default 50 events)
  migrate          Apply database migrations and exit
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
  await spine.recover();
  await spine.runner.idle();
  const pending = await spine.repos.approvals.listPending(spine.operator.id);
  if (interactive && pending.length > 0) {
    await adapter.post(CONSOLE_THREAD, {
      text: `${pending.length} approval${pending.length === 1 ? ' is' : 's are'} waiting for you: type \`status\` to see, \`approve\` or \`reject\` to answer the latest.`,
    });
  }
  await adapter.run(spine.intake, () => spine.runner.idle());
}

async function commandChat(config: Config): Promise<void> {
  const logger = createLogger({ level: config.logLevel, file: logFile(config) });
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
  const logger = createLogger({ level: config.logLevel, file: withConsole ? logFile(config) : undefined });
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
    server = await startHttpServer({ port: config.port, db: spine.db, logger, routes: chat.routes });
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
  await spine.recover();
  // Runs until SIGTERM/SIGINT.
}

async function commandLog(config: Config, args: string[]): Promise<void> {
  const limitIndex = args.indexOf('--limit');
  const limit = limitIndex >= 0 ? Number(args[limitIndex + 1]) : 50;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new SpineError(
      'cli.bad_argument',
      '--limit needs a positive whole number, e.g. spine log --limit 100',
      {
        category: 'user',
      },
    );
  }
  const logger = createLogger({ level: 'warn', file: logFile(config) });
  const spine = await createSpine(config, { logger });
  try {
    process.stdout.write(`${await spine.intake.log(spine.operator.id, limit)}\n`);
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
      return commandLog(config, args);
    case 'migrate':
      return commandMigrate(config);
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
