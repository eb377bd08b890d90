import { z } from 'zod';

/**
 * The playbook format: a trigger, inputs and steps, written as YAML by the operator (or proposed by
 * a model and approved). Strings in step parameters may hold `{{ expr }}` JSONata expressions over
 * `trigger`, `inputs`, `steps.<id>` (and `$item` / `$index` inside a `forEach`).
 */

const STEP_ID = /^[a-z][a-z0-9_]{0,39}$/i;
const LOCAL_TIME = /^([01]?\d|2[0-3]):[0-5]\d$/;
/** `30m`, `2h`, `1d`, `90s`: the delay of a `wait` step. */
export const DURATION = /^(\d{1,6})\s*(s|m|h|d)$/;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration like `2h`. */
export function durationMs(duration: string): number {
  const match = DURATION.exec(duration.trim());
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export const WEEKDAYS = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
] as const;

const scheduleTrigger = z
  .object({
    /** A five-field cron pattern (minute hour day-of-month month day-of-week), in the operator's time zone. */
    cron: z
      .string()
      .regex(/^\s*\S+(\s+\S+){4}\s*$/, 'expected a five-field cron pattern like "0 16 * * 5"')
      .optional(),
    /** `hour`, `day`, `weekday`, `week` (Mondays) or a day name (`friday`). */
    every: z.enum(['hour', 'day', 'weekday', 'week', ...WEEKDAYS]).optional(),
    /** Local time of day (`16:00`) for `every`. */
    at: z.string().regex(LOCAL_TIME, 'expected a time of day like "16:00"').optional(),
    /** An IANA time zone; the operator's by default. */
    timezone: z
      .string()
      .refine((zone) => isTimeZone(zone), 'expected an IANA time zone like "Europe/Paris"')
      .optional(),
  })
  .strict()
  .refine((value) => Boolean(value.cron) !== Boolean(value.every), {
    message: 'expected exactly one of cron or every',
  });

const trigger = z.union(
  [
    z.object({ schedule: scheduleTrigger }).strict(),
    z
      .object({
        email: z
          .object({
            from: z.string().min(1).optional(),
            subjectContains: z.string().min(1).optional(),
          })
          .strict(),
      })
      .strict(),
    z.object({ stripe: z.object({ events: z.array(z.string().min(1)).min(1) }).strict() }).strict(),
    z.object({ webhook: z.object({}).strict().nullable() }).strict(),
    z.object({ chat: z.object({ command: z.string().min(1) }).strict() }).strict(),
  ],
  { error: 'expected one of schedule, email, stripe, webhook or chat' },
);

const stepBase = {
  id: z.string().regex(STEP_ID, 'expected an id of letters, digits and _ starting with a letter'),
};

const recallStep = z
  .object({
    ...stepBase,
    recall: z
      .object({
        query: z.string().min(1),
        limit: z.number().int().min(1).max(50).optional(),
        /** Only memories of the last `7d`, `24h`, … */
        since: z.string().regex(DURATION, 'expected a duration like "7d" or "24h"').optional(),
        kinds: z
          .array(z.enum(['fact', 'note', 'document', 'episode']))
          .min(1)
          .optional(),
      })
      .strict(),
  })
  .strict();

const draftStep = z
  .object({
    ...stepBase,
    forEach: z.string().min(1).optional(),
    draft: z
      .object({
        /** A text with `{{ expr }}` expressions. */
        template: z.string().min(1).optional(),
        /** With a model configured: the prompt (expressions allowed); the template is the offline fallback. */
        prompt: z.string().min(1).optional(),
      })
      .strict()
      .refine((value) => Boolean(value.template ?? value.prompt), {
        message: 'expected a template or a prompt',
      }),
  })
  .strict();

const actionStep = z
  .object({
    ...stepBase,
    forEach: z.string().min(1).optional(),
    action: z
      .object({
        connector: z.string().min(1),
        operation: z.string().min(1),
        params: z.record(z.string(), z.unknown()).default({}),
        /** Shown on the card and in the story. */
        why: z.string().optional(),
      })
      .strict(),
  })
  .strict();

const whenStep = z
  .object({
    ...stepBase,
    /** A JSONata condition; false skips the named steps, or every later step. */
    when: z.string().min(1),
    skip: z.array(z.string().regex(STEP_ID)).optional(),
  })
  .strict();

const checkpointStep = z
  .object({
    ...stepBase,
    checkpoint: z
      .object({
        message: z.string().min(1),
        /** An expression whose value is shown on the card (e.g. the drafts). */
        show: z.string().min(1).optional(),
      })
      .strict(),
  })
  .strict();

const waitStep = z
  .object({
    ...stepBase,
    wait: z.union([
      z.object({ for: z.string().regex(DURATION, 'expected a duration like "2h", "30m" or "1d"') }).strict(),
      z.object({ until: z.string().regex(LOCAL_TIME, 'expected a time of day like "09:00"') }).strict(),
    ]),
  })
  .strict();

export const stepSchema = z.union([recallStep, draftStep, actionStep, whenStep, checkpointStep, waitStep], {
  error: 'expected a step with an id and one of recall, draft, action, when, checkpoint or wait',
});

export const playbookSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a name of lower-case letters, digits and dashes'),
    description: z.string().min(1),
    trigger,
    inputs: z.record(z.string(), z.unknown()).default({}),
    steps: z.array(stepSchema).min(1, 'expected at least one step'),
  })
  .strict();

export type Playbook = z.infer<typeof playbookSchema>;
export type PlaybookStep = z.infer<typeof stepSchema>;
export type PlaybookTrigger = Playbook['trigger'];
export type ScheduleTrigger = z.infer<typeof scheduleTrigger>;

/** The kind of a step, from the one key it carries. */
export type StepKind = 'recall' | 'draft' | 'action' | 'when' | 'checkpoint' | 'wait';

export function stepKind(step: PlaybookStep): StepKind {
  if ('recall' in step) return 'recall';
  if ('draft' in step) return 'draft';
  if ('action' in step) return 'action';
  if ('checkpoint' in step) return 'checkpoint';
  if ('wait' in step) return 'wait';
  return 'when';
}

/** The trigger's kind. */
export function triggerKind(trigger: PlaybookTrigger): 'schedule' | 'email' | 'stripe' | 'webhook' | 'chat' {
  return Object.keys(trigger)[0] as 'schedule' | 'email' | 'stripe' | 'webhook' | 'chat';
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
