import { Annotation } from '@langchain/langgraph';
import type { ActionOutcome } from '../goal/state.ts';

/** Replace the channel's value with the node's output (every field here). */
const replace = <T>(initial: () => T) =>
  Annotation<T>({ reducer: (_current, next) => next, default: initial });

/**
 * State of a playbook run, checkpointed after every node (thread id = `playbook-<goal id>`). The
 * run's version is fixed when it starts: the graph was compiled from it.
 */
export const PlaybookState = Annotation.Root({
  /** The goal this run is (approvals, events and forensics hang off it). */
  goalId: Annotation<number>(),
  operatorId: Annotation<number>(),
  runId: Annotation<number>(),
  playbookName: Annotation<string>(),
  /** What fired the run: the event's payload, the schedule's time, the chat command. */
  trigger: Annotation<Record<string, unknown>>(),
  inputs: Annotation<Record<string, unknown>>(),
  /** Each finished step's output by step id (`steps.<id>` in expressions). */
  steps: replace<Record<string, unknown>>(() => ({})),
  /** Steps a false `when` skipped. */
  skipped: replace<string[]>(() => []),
  /** Set when the run stops early (a rejected checkpoint, a false `when` without `skip`). */
  stopped: replace<string | null>(() => null),
  /** Stored actions of each action or checkpoint step. */
  stepActions: replace<Record<string, number[]>>(() => ({})),
  /** Undecided approvals of the current step (the route after waiting). */
  pendingApprovals: replace<number>(() => 0),
  /** When each `wait` step may continue (ISO). */
  wakeAt: replace<Record<string, string>>(() => ({})),
  /** What each action did, for the final reply. */
  outcomes: replace<ActionOutcome[]>(() => []),
  /** Lines for the final reply (guard notes, skipped steps). */
  notes: replace<string[]>(() => []),
});

export type PlaybookStateType = typeof PlaybookState.State;
export type PlaybookStateUpdate = typeof PlaybookState.Update;
