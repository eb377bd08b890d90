import type { LlmUsageRepository, UsageTotals } from '../../db/repositories/llm-usage.ts';
import { formatUsd, localDay, type UsageMeter } from './usage-meter.ts';

const DAY_MS = 86_400_000;

function tokens(totals: UsageTotals): string {
  return `${totals.inputTokens.toLocaleString('en')} tokens in, ${totals.outputTokens.toLocaleString('en')} out`;
}

function calls(totals: UsageTotals): string {
  const hits = totals.cacheHits > 0 ? ` (${totals.cacheHits} from the cache)` : '';
  return `${totals.calls} model call${totals.calls === 1 ? '' : 's'}${hits}`;
}

/** A day's usage for the morning digest: one line, and the figures. */
export interface DigestUsage {
  day: string;
  totals: UsageTotals;
  budgetUsd: number | null;
  line: string;
}

/**
 * Usage and cost as the operator reads them: the `usage` chat command, and a line for the digest.
 */
export class UsageReport {
  constructor(
    private readonly repo: LlmUsageRepository,
    private readonly meter: UsageMeter,
    private readonly clock: { now(): Date },
    /** Model ids per role, to say which model does what. */
    private readonly models: { small: string; large: string } | null,
  ) {}

  /** The `usage` command: today against the budget, by model, the costliest goals, and the last 7 days. */
  async text(operatorId: number): Promise<string> {
    const today = this.meter.today();
    const totals = await this.repo.totalsForDay(operatorId, today);
    const budget = this.meter.budgetUsd;
    const lines: string[] = [];
    if (this.models) {
      lines.push(`Models: ${this.models.large} plans; ${this.models.small} does routine work.`);
    } else {
      lines.push('No language model is configured: I use the offline rules (no cost).');
    }
    const budgetText =
      budget === null
        ? 'no daily budget set'
        : `${Math.round((totals.costUsd / (budget || 1)) * 100)}% of your ${formatUsd(budget)} daily budget`;
    lines.push(
      `Today (${today}): ${formatUsd(totals.costUsd)} — ${budgetText}; ${calls(totals)}, ${tokens(totals)}.`,
    );
    for (const model of await this.repo.byModelForDay(operatorId, today)) {
      lines.push(`• ${model.model}: ${formatUsd(model.costUsd)}, ${calls(model)}, ${tokens(model)}`);
    }
    const goals = await this.repo.topGoalsForDay(operatorId, today, 3);
    if (goals.length > 0) {
      lines.push(
        `Costliest goals today: ${goals.map((goal) => `#${goal.goalId} ${formatUsd(goal.costUsd)}`).join(', ')}.`,
      );
    }
    const weekStart = localDay(new Date(this.clock.now().getTime() - 6 * DAY_MS), this.meter.timezone);
    const week = await this.repo.totalsForDays(operatorId, weekStart, today);
    lines.push(`Last 7 days: ${formatUsd(week.costUsd)}, ${calls(week)}.`);
    return lines.join('\n');
  }

  /** Yesterday's usage (or a given local day) for the digest. */
  async forDigest(operatorId: number, day?: string): Promise<DigestUsage> {
    const date = day ?? localDay(new Date(this.clock.now().getTime() - DAY_MS), this.meter.timezone);
    const totals = await this.repo.totalsForDay(operatorId, date);
    const budget = this.meter.budgetUsd;
    const line =
      totals.calls === 0
        ? `Models on ${date}: no calls.`
        : `Models on ${date}: ${formatUsd(totals.costUsd)}${budget === null ? '' : ` of ${formatUsd(budget)}`}, ` +
          `${calls(totals)}, ${tokens(totals)}.`;
    return { day: date, totals, budgetUsd: budget, line };
  }
}
