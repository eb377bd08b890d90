import type { Clock } from '../../core/clock.ts';
import type { LlmUsageRepository, NewLlmUsage } from '../../db/repositories/llm-usage.ts';

/** Where today's spending stands against the daily budget. */
export interface BudgetState {
  level: 'ok' | 'warning' | 'capped';
  day: string;
  spentUsd: number;
  budgetUsd: number | null;
}

/** The share of the budget at which the operator is warned (once per day). */
export const BUDGET_WARNING_SHARE = 0.8;

/** Money as the operator reads it: cents, or fractions of a cent for tiny sums. */
export function formatUsd(amount: number): string {
  if (amount > 0 && amount < 0.01) return `$${amount.toFixed(4)}`;
  return `$${amount.toFixed(2)}`;
}

/** The local date (YYYY-MM-DD) of an instant in a time zone. */
export function localDay(at: Date, timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(at);
}

/**
 * Records tokens and cost per call and enforces the daily budget: at 80% the operator is warned
 * once per local day, at 100% non-essential calls stop until the next local day.
 */
export class UsageMeter {
  readonly #repo: LlmUsageRepository;
  readonly #clock: Clock;
  readonly #timezone: string;
  readonly #budgetUsd: number | null;

  constructor(options: {
    repo: LlmUsageRepository;
    clock: Clock;
    timezone: string;
    dailyBudgetUsd: number | null;
  }) {
    this.#repo = options.repo;
    this.#clock = options.clock;
    this.#timezone = options.timezone;
    this.#budgetUsd = options.dailyBudgetUsd;
  }

  get budgetUsd(): number | null {
    return this.#budgetUsd;
  }

  get timezone(): string {
    return this.#timezone;
  }

  /** Today's local date for the operator. */
  today(): string {
    return localDay(this.#clock.now(), this.#timezone);
  }

  async state(operatorId: number | null): Promise<BudgetState> {
    const day = this.today();
    if (operatorId === null || this.#budgetUsd === null) {
      return { level: 'ok', day, spentUsd: 0, budgetUsd: this.#budgetUsd };
    }
    const spent = (await this.#repo.totalsForDay(operatorId, day)).costUsd;
    const level =
      spent >= this.#budgetUsd
        ? 'capped'
        : spent >= this.#budgetUsd * BUDGET_WARNING_SHARE
          ? 'warning'
          : 'ok';
    return { level, day, spentUsd: spent, budgetUsd: this.#budgetUsd };
  }

  /** Record one call; returns the notices the operator should see now (each at most once a day). */
  async record(usage: Omit<NewLlmUsage, 'day' | 'at'>): Promise<string[]> {
    const at = this.#clock.now();
    await this.#repo.record({ ...usage, day: localDay(at, this.#timezone), at });
    if (usage.operatorId === null || usage.costUsd === 0) return [];
    const state = await this.state(usage.operatorId);
    if (state.level === 'capped') {
      return (await this.#repo.claimNotice(usage.operatorId, state.day, 'cap', at))
        ? [this.#capText(state)]
        : [];
    }
    if (
      state.level === 'warning' &&
      (await this.#repo.claimNotice(usage.operatorId, state.day, 'warning', at))
    ) {
      return [this.#warningText(state)];
    }
    return [];
  }

  /** What to say when a call is refused because the budget is used up (the long text once a day). */
  async capMessage(operatorId: number, state: BudgetState): Promise<string> {
    if (await this.#repo.claimNotice(operatorId, state.day, 'cap', this.#clock.now()))
      return this.#capText(state);
    return `Today's model budget (${formatUsd(state.budgetUsd ?? 0)}) is used up, so I used the offline rules.`;
  }

  #warningText(state: BudgetState): string {
    const share = Math.round((state.spentUsd / (state.budgetUsd ?? 1)) * 100);
    return (
      `Heads-up: I have used ${formatUsd(state.spentUsd)} of today's ${formatUsd(state.budgetUsd ?? 0)} model ` +
      `budget (${share}%). At 100% I stop calling the language model and use the offline rules until tomorrow. ` +
      'Type `usage` for details.'
    );
  }

  #capText(state: BudgetState): string {
    return (
      `Today's model budget of ${formatUsd(state.budgetUsd ?? 0)} is used up (${formatUsd(state.spentUsd)} spent), ` +
      `so I have stopped calling the language model until tomorrow (${this.#timezone}) and use the offline ` +
      'rules instead. Raise SPINE_DAILY_BUDGET_USD to change the cap; type `usage` for details.'
    );
  }
}
