import { z } from 'zod';

/**
 * How long Spine keeps rows that only serve dedupe, reports and forensics (spine.config.yaml
 * `retention:`). A window of `null` keeps those rows for ever. The event log is never pruned, and
 * memory that expires or is forgotten is scrubbed from checkpoints whatever these say.
 */
export interface RetentionSettings {
  /** Chat deliveries (`inbox`, the dedupe of Slack, Telegram and console deliveries), in days. */
  inboxDays: number | null;
  /** Inbound e-mails and Stripe events (`inbound_deliveries`, their dedupe), in days. */
  inboundDeliveryDays: number | null;
  /** Model calls (`llm_usage`: the budget, `usage`, the metrics' spend), in days. */
  modelUsageDays: number | null;
  /** The graph checkpoints of a goal, this many days after it finished (a summary is kept). */
  goalCheckpointDays: number | null;
  /** Rows deleted per statement. */
  batchSize: number;
  /** Statements per table and run: what is left over goes at the next run. */
  maxBatches: number;
}

export const DEFAULT_RETENTION: RetentionSettings = {
  inboxDays: 30,
  inboundDeliveryDays: 30,
  modelUsageDays: 400,
  goalCheckpointDays: 7,
  batchSize: 1000,
  maxBatches: 20,
};

const days = (min: number, why: string) =>
  z.union([z.literal(false), z.number().int().min(min, `must be at least ${min} days (${why})`).max(36_500)]);

/** The `retention:` section of spine.config.yaml (README.md, "Retention"). */
export const retentionSectionSchema = z
  .object({
    // Slack retries for about an hour, Telegram holds an update for a day: a week covers an outage.
    inboxDays: days(7, 'platforms redeliver within a day').default(30),
    // Stripe retries for 3 days; a renumbered IMAP mailbox is re-read 7 days back (whole days: 8).
    inboundDeliveryDays: days(8, 'Stripe retries for 3 days, IMAP re-reads 7').default(30),
    // The budget needs today, `usage` the last 7 days, the console's metrics the last 30.
    modelUsageDays: days(31, 'the console shows the last 30 days of spend').default(400),
    // A day leaves any late re-delivery of a finished goal's job to find its checkpoints.
    goalCheckpointDays: days(1, 'a late job of a finished goal must find its checkpoints').default(7),
    batchSize: z.number().int().min(10).max(100_000).default(1000),
    maxBatches: z.number().int().min(1).max(10_000).default(20),
  })
  .strict()
  .default({
    inboxDays: 30,
    inboundDeliveryDays: 30,
    modelUsageDays: 400,
    goalCheckpointDays: 7,
    batchSize: 1000,
    maxBatches: 20,
  });

/** The parsed section as settings (`false`: kept for ever). */
export function retentionSettingsFrom(section: z.infer<typeof retentionSectionSchema>): RetentionSettings {
  const window = (value: number | false) => (value === false ? null : value);
  return {
    inboxDays: window(section.inboxDays),
    inboundDeliveryDays: window(section.inboundDeliveryDays),
    modelUsageDays: window(section.modelUsageDays),
    goalCheckpointDays: window(section.goalCheckpointDays),
    batchSize: section.batchSize,
    maxBatches: section.maxBatches,
  };
}
