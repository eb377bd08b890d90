/** One local day of business metrics (the ledger computes them; the console draws them). */
export interface DailyBusinessMetrics {
  day: string;
  minutesSaved: number;
  actionsExecuted: number;
  errorsIntroduced: number;
  correctiveActions: number;
  approvalsApproved: number;
  approvalsEdited: number;
  approvalsRejected: number;
  modelSpendUsd: number;
}

/** Where the console's charts get their figures: per local day, oldest first. */
export interface MetricsSource {
  daily(operatorId: number, options: { days: number; now?: Date }): Promise<DailyBusinessMetrics[]>;
}
