import type { DailyBusinessMetrics } from '../ledger/business-metrics.ts';

/** One local day of business metrics, as the ledger computes them. */
export type { DailyBusinessMetrics };

/** Where the console's charts get their figures: per local day, oldest first. */
export interface MetricsSource {
  daily(operatorId: number, options: { days: number; now?: Date }): Promise<DailyBusinessMetrics[]>;
}
