import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { SpineError } from '../core/errors.ts';
import type { Repositories } from '../db/repositories/index.ts';
import { readEventLog } from '../ledger/event-log.ts';
import {
  answerGoalCommand,
  type ForensicsDeps,
  goalForensics,
  renderGoalForensics,
} from '../ledger/goal-forensics.ts';
import { describeAudit } from '../ledger/ledger-audit.ts';
import { eventsAsJson, renderLogPage } from '../ledger/log-command.ts';
import { applyOption, type LogFilter, LogFilterError, type LogPage } from '../ledger/log-filter.ts';
import { auditSpineLedger } from './ledger-setup.ts';
import type { Spine } from './spine.ts';

/** `goal <id>` in chat: the operator's time zone, then the ledger's forensics. */
export async function ledgerGoalText(
  deps: ForensicsDeps,
  repos: Repositories,
  operatorId: number,
  goalId: number,
): Promise<string> {
  const operator = await repos.operators.get(operatorId);
  return answerGoalCommand(deps, { id: operatorId, timezone: operator?.timezone ?? 'UTC' }, goalId);
}

export interface LogCliOptions {
  filter: LogFilter;
  page: LogPage & { beforeId?: number };
  json: boolean;
  verify: boolean;
}

const VALUE_OPTIONS = ['goal', 'connector', 'actor', 'since', 'until', 'text', 'page', 'limit'];

function badArgument(message: string): SpineError {
  return new SpineError('cli.bad_argument', `${message} See \`spine help\`.`, { category: 'user' });
}

/** Parse `spine log` arguments. */
export function parseLogCli(args: string[], context: { now: Date; timezone: string }): LogCliOptions {
  const options: LogCliOptions = { filter: {}, page: { page: 1, limit: 50 }, json: false, verify: false };
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    const [flag = '', inline] = arg.split(/=(.*)/s, 2);
    const name = flag.replace(/^--/, '');
    if (flag === '--json') options.json = true;
    else if (flag === '--verify') options.verify = true;
    else if (flag.startsWith('--') && (VALUE_OPTIONS.includes(name) || name === 'before')) {
      if (inline === undefined) index += 1;
      const value = inline ?? args[index];
      if (value === undefined) throw badArgument(`${flag} needs a value.`);
      if (name === 'before') {
        const id = Number(value);
        if (!Number.isInteger(id) || id <= 0) throw badArgument('--before needs an event id.');
        options.page.beforeId = id;
        continue;
      }
      try {
        applyOption(name, value, options.filter, options.page, context);
      } catch (error) {
        if (error instanceof LogFilterError) throw badArgument(error.message);
        throw error;
      }
    } else throw badArgument(`Unknown option "${arg}" for spine log.`);
  }
  return options;
}

/**
 * `spine log …`: the story, filtered and paged, as text or JSON; `--verify` checks the hash chain,
 * the MACs with the ledger key and the newest anchor (exit code 1 on any problem).
 */
export async function runLogCli(spine: Spine, args: string[]): Promise<{ output: string; exitCode: number }> {
  const timezone = spine.operator.timezone;
  const options = parseLogCli(args, { now: new Date(), timezone });
  if (options.verify) {
    const audit = await auditSpineLedger(spine.config, spine.db);
    return {
      output: options.json ? JSON.stringify(audit) : describeAudit(audit),
      exitCode: audit.ok ? 0 : 1,
    };
  }
  const result = await readEventLog(spine.db.pool, spine.operator.id, options.filter, options.page);
  if (options.json)
    return {
      output: JSON.stringify({ ...result, events: eventsAsJson(result.events) }, null, 2),
      exitCode: 0,
    };
  const hintArgs = args.filter(
    (arg, index) => !['--page', '--before'].includes(args[index - 1] ?? '') && !/^--(page|before)/.test(arg),
  );
  const output = renderLogPage(result, {
    timezone,
    nextPageHint: (page) => `spine log ${[...hintArgs, '--page', String(page)].join(' ')}`,
  });
  return { output, exitCode: 0 };
}

/** The goal graph's checkpointer: the history forensics read (thread id = goal id). */
export function goalCheckpointer(spine: Spine): BaseCheckpointSaver {
  const { checkpointer } = spine.graph;
  if (typeof checkpointer !== 'object')
    throw new SpineError(
      'ledger.no_checkpointer',
      'The goal graph has no checkpointer, so it keeps no history.',
    );
  return checkpointer;
}

/** `spine goal <id> [--json]`: the goal step by step from its checkpoints. */
export async function runGoalCli(spine: Spine, args: string[]): Promise<string> {
  const idText = args.find((arg) => !arg.startsWith('--'))?.replace(/^#/, '');
  const goalId = Number(idText);
  if (!idText || !Number.isInteger(goalId) || goalId <= 0)
    throw badArgument('spine goal needs a goal id, e.g. spine goal 41.');
  const forensics = await goalForensics(
    { db: spine.db.pool, checkpointer: goalCheckpointer(spine) },
    spine.operator.id,
    goalId,
  );
  return args.includes('--json')
    ? JSON.stringify(forensics, null, 2)
    : renderGoalForensics(forensics, spine.operator.timezone);
}
