import { Annotation } from '@langchain/langgraph';
import type { Channel } from '../../core/domain.ts';
import type { MemoryPointer } from '../../memory/memory-store.ts';
import type { Plan } from '../models/offline-planner.ts';

/** What an executed (or skipped) action did, for the reply. */
export interface ActionOutcome {
  actionId: number;
  /** `unknown`: it may have happened; the operator is asked (a failure card), nothing repeats it. */
  status: 'succeeded' | 'failed' | 'unknown' | 'rejected' | 'refused' | 'scheduled';
  summary: string;
  /** Set when the action is reversible and ran: the reply offers Undo. */
  undoable?: boolean;
  /** Set when the action failed: the failure object whose card offers remediation. */
  failureId?: number;
}

/** Replace the channel's value with the node's output (the default for every field here). */
const replace = <T>(initial: () => T) =>
  Annotation<T>({ reducer: (_current, next) => next, default: initial });

/**
 * State of the goal graph, checkpointed after every node (thread id = goal id). It carries
 * pointers to memories, never whole documents.
 */
export const GoalState = Annotation.Root({
  /** The goal row this run belongs to. */
  goalId: Annotation<number>(),
  operatorId: Annotation<number>(),
  /** The operator's message. */
  text: Annotation<string>(),
  channel: Annotation<Channel>(),
  /** The chat user who asked (`slack:U123`, `console:local`). */
  requestedBy: Annotation<string>(),
  /** Memories the retriever found (pointers with snippets and sources). */
  memories: replace<MemoryPointer[]>(() => []),
  /** The planner's answer and proposed actions. */
  planned: replace<Plan | null>(() => null),
  /** Stored actions for this goal, in plan order (after the guard). */
  actionIds: replace<number[]>(() => []),
  /** Problems found by the guard (invalid parameters, refused by policy), for the reply. */
  guardNotes: replace<string[]>(() => []),
  /** How many approvals are still undecided (the route after awaitApproval). */
  pendingApprovals: replace<number>(() => 0),
  /** What each action did. */
  outcomes: replace<ActionOutcome[]>(() => []),
  /** The reply posted in the thread. */
  reply: replace<string | null>(() => null),
});

export type GoalStateType = typeof GoalState.State;
export type GoalStateUpdate = typeof GoalState.Update;
