import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import type { ChatSender } from '../../core/message.ts';
import type { ScheduleProvider } from '../../core/schedule.ts';
import type { Repositories } from '../../db/repositories/index.ts';
import type { DigestFacts } from './state.ts';

/** Everything the digest graph's nodes use, passed in when the graph is built. */
export interface DigestGraphDeps {
  repos: Repositories;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  /** The calendar; absent until a calendar connector is configured. */
  schedule?: ScheduleProvider;
  /** The time-saved estimate of what was done since an instant (ledger/business-metrics.ts). */
  minutesSaved: (operatorId: number, since: Date) => Promise<number>;
  /** A local day's business metrics as one line (ledger/business-metrics.ts); the digest shows yesterday's. */
  businessDay?: (operatorId: number, localDate: string) => Promise<string>;
  /** Yesterday's model spend as one line; absent without a language model. */
  modelUsage?: (operatorId: number) => Promise<string>;
  /** Opening lines for the digest from the small model; absent without a language model. */
  prose?: (operatorId: number, facts: DigestFacts) => Promise<string | null>;
}
