import { Annotation } from '@langchain/langgraph';
import type { ThreadRef } from '../../core/domain.ts';
import type { OutboundMessage } from '../../core/message.ts';
import type { ScheduleItem } from '../../core/schedule.ts';
import type {
  ExpiringMemory,
  FinishedGoal,
  PeriodCounts,
  SucceededAction,
} from '../../db/repositories/digest-facts.ts';

/** A pending approval as the digest shows it. */
export interface PendingApprovalLine {
  approvalId: number;
  goalId: number;
  title: string;
}

/** An open failure as the digest shows it. */
export interface OpenFailureLine {
  failureId: number;
  message: string;
}

/** Everything the digest reports, gathered by `collect`. */
export interface DigestFacts {
  operatorName: string;
  timezone: string;
  since: string;
  until: string;
  finished: FinishedGoal[];
  actions: SucceededAction[];
  pending: PendingApprovalLine[];
  failures: OpenFailureLine[];
  /** null when no calendar is connected. */
  schedule: ScheduleItem[] | null;
  expiring: ExpiringMemory[];
  counts: PeriodCounts;
  minutesSaved: number;
  /** Yesterday's model spend, when a model is configured. */
  modelUsage?: string | null;
  /** Opening lines written by the small model, when one is configured and answered. */
  prose?: string | null;
  /** Yesterday's business metrics as one line (time saved, actions, errors, approvals). */
  businessDay?: string | null;
}

/** Replace the channel's value with the node's output. */
const replace = <T>(initial: () => T) =>
  Annotation<T>({ reducer: (_current, next) => next, default: initial });

/** State of the digest graph (one run per digest; no checkpointer: the digests row is the guard). */
export const DigestState = Annotation.Root({
  operatorId: Annotation<number>(),
  /** The operator's local date this digest is for. */
  localDate: Annotation<string>(),
  /** The claimed daily digest row, or null for an on-demand digest. */
  digestId: replace<number | null>(() => null),
  /** Sent after its time because Spine was down then. */
  late: replace<boolean>(() => false),
  /** Where to post; null means the operator's home thread. */
  thread: replace<ThreadRef | null>(() => null),
  /** What happened and what is coming (from `collect`). */
  facts: replace<DigestFacts | null>(() => null),
  /** The message to post (from `compose`). */
  message: replace<OutboundMessage | null>(() => null),
  /** The posted message's id (from `deliver`). */
  messageId: replace<string | null>(() => null),
});

export type DigestStateType = typeof DigestState.State;
export type DigestStateUpdate = typeof DigestState.Update;
