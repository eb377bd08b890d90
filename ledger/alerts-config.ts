import { z } from 'zod';

/** Which business alerts are on, and their thresholds (spine.config.yaml `alerts:`). */
export interface AlertRules {
  /** How often the rules are evaluated. */
  intervalMs: number;
  /** An action of risk `money` failed. */
  moneyActionFailed: boolean;
  /** More than this many failures in one local day; null: off. */
  failuresPerDay: number | null;
  /** The digest was not delivered this many minutes after it was due; null: off. */
  digestUndeliveredMinutes: number | null;
  /** A connector's circuit has been open this long; null: off. */
  circuitOpenMinutes: number | null;
  /** Today's model spend above this (USD); `'model-budget'`: the models' daily budget; null: off. */
  spendOverBudget: number | 'model-budget' | null;
}

export const DEFAULT_ALERT_RULES: AlertRules = {
  intervalMs: 60_000,
  moneyActionFailed: true,
  failuresPerDay: 5,
  digestUndeliveredMinutes: 15,
  circuitOpenMinutes: 15,
  spendOverBudget: 'model-budget',
};

const offOr = (number: z.ZodNumber) => z.union([z.literal(false), number]);

/** The `alerts:` section of spine.config.yaml. */
export const alertsSectionSchema = z
  .object({
    everySeconds: z.number().int().min(10).max(3600).default(60),
    moneyActionFailed: z.boolean().default(true),
    failuresPerDay: offOr(z.number().int().min(1)).default(5),
    digestUndeliveredMinutes: offOr(z.number().int().min(1).max(1440)).default(15),
    circuitOpenMinutes: offOr(z.number().int().min(1).max(1440)).default(15),
    spendOverBudget: z.union([z.boolean(), z.number().positive()]).default(true),
  })
  .strict()
  .default({
    everySeconds: 60,
    moneyActionFailed: true,
    failuresPerDay: 5,
    digestUndeliveredMinutes: 15,
    circuitOpenMinutes: 15,
    spendOverBudget: true,
  });

/** The `metrics:` section: manual minutes per `connector.operation` for the time-saved estimate. */
export const metricsSectionSchema = z
  .object({
    minutesSaved: z
      .record(z.string(), z.number().min(0).max(1440))
      .superRefine((table, context) => {
        for (const key of Object.keys(table)) {
          if (!/^[\w-]+\.[\w-]+$/.test(key))
            context.addIssue({
              code: 'custom',
              path: [key],
              message: `"${key}": keys are connector.operation, e.g. email.send_email`,
            });
        }
      })
      .default({}),
  })
  .strict()
  .default({ minutesSaved: {} });

export function alertRulesFrom(section: z.infer<typeof alertsSectionSchema>): AlertRules {
  return {
    intervalMs: section.everySeconds * 1000,
    moneyActionFailed: section.moneyActionFailed,
    failuresPerDay: section.failuresPerDay === false ? null : section.failuresPerDay,
    digestUndeliveredMinutes:
      section.digestUndeliveredMinutes === false ? null : section.digestUndeliveredMinutes,
    circuitOpenMinutes: section.circuitOpenMinutes === false ? null : section.circuitOpenMinutes,
    spendOverBudget:
      section.spendOverBudget === true
        ? 'model-budget'
        : section.spendOverBudget === false
          ? null
          : section.spendOverBudget,
  };
}
