import { createInterface } from 'node:readline/promises';
import type { Logger } from 'pino';
import { systemClock } from '../core/clock.ts';
import { SpineError } from '../core/errors.ts';
import { applyRenormalize, planRenormalize, renderPlan } from '../ledger/renormalize.ts';
import type { Config } from './config.ts';
import { createSpine } from './spine.ts';

/** `spine failures`: the open failures with their remedies, in typed form. */
export async function commandFailures(config: Config, logger: Logger): Promise<void> {
  const spine = await createSpine(config, { logger });
  try {
    process.stdout.write(`${await spine.failures.listText(spine.operator.id)}\n`);
  } finally {
    await spine.close();
  }
}

async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

/**
 * `spine renormalize --normalizer <name> [--apply]`: replay the normalizer's history through its
 * current version and print the facts that would change; apply them with `--apply`, or after a
 * yes on an interactive terminal (without one, e.g. in CI, it stays a dry run).
 */
export async function commandRenormalize(config: Config, args: string[], logger: Logger): Promise<void> {
  const index = args.indexOf('--normalizer');
  const name = index >= 0 ? args[index + 1] : undefined;
  if (!name || name.startsWith('--')) {
    throw new SpineError(
      'cli.bad_argument',
      'Say which normalizer to replay, e.g. spine renormalize --normalizer email (add --apply to write the changes).',
      { category: 'user' },
    );
  }
  const spine = await createSpine(config, { logger });
  try {
    const deps = { db: spine.db.pool, memory: spine.memory, registry: spine.normalizers, clock: systemClock };
    const plan = await planRenormalize(deps, name);
    process.stdout.write(`${renderPlan(plan)}\n`);
    if (plan.changes.length === 0) return;
    const apply =
      args.includes('--apply') ||
      (Boolean(process.stdin.isTTY) && (await confirm(`Apply these ${plan.changes.length} changes? [y/N] `)));
    if (!apply) {
      process.stdout.write(
        'Dry run: nothing changed. Run again with --apply to write the new fact versions.\n',
      );
      return;
    }
    const applied = await applyRenormalize(deps, plan, 'operator');
    process.stdout.write(
      `Applied ${applied.length} change${applied.length === 1 ? '' : 's'} as new fact versions; the old values stay in each fact's history.\n`,
    );
  } finally {
    await spine.close();
  }
}
