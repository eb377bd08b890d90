/** Domain types shared by every layer. Rows in `db/` map onto these. */

/** Where a message came from or goes to. */
export type Channel = 'console' | 'slack' | 'telegram' | 'web' | 'system';

/** How dangerous an operation is; the policy decides approvals from it, never the model. */
export type RiskClass = 'read' | 'write' | 'money' | 'legal' | 'destructive';

export const RISK_CLASSES: readonly RiskClass[] = ['read', 'write', 'money', 'legal', 'destructive'];

export interface Operator {
  id: number;
  name: string;
  timezone: string;
  /** External writes need approval until this instant (probation). */
  probationUntil: Date | null;
  createdAt: Date;
}

/** A chat user that is one of the operator's identities on a channel. */
export interface Identity {
  channel: Channel;
  externalId: string;
  operatorId: number;
  displayName: string | null;
}

/** Where to reply: the chat, and the thread/message within it. Opaque to everything but the adapter. */
export interface ThreadRef {
  channel: Channel;
  /** Conversation id: Slack channel, Telegram chat, "local" for the console. */
  conversation: string;
  /** Thread root or message to reply to, when the platform has one. */
  thread?: string;
}

/** One stable string per chat thread (`slack:C1:1700000000.1`), for memories that belong to a thread. */
export function threadKey(ref: ThreadRef): string {
  return `${ref.channel}:${ref.conversation}:${ref.thread ?? ''}`;
}

export type GoalStatus = 'received' | 'running' | 'awaiting_approval' | 'done' | 'failed' | 'cancelled';

export interface Goal {
  id: number;
  operatorId: number;
  channel: Channel;
  thread: ThreadRef;
  text: string;
  requestedBy: string;
  status: GoalStatus;
  createdAt: Date;
  updatedAt: Date;
}

export type ActionStatus =
  | 'proposed'
  | 'awaiting_approval'
  | 'approved'
  | 'rejected'
  | 'refused'
  | 'executing'
  | 'succeeded'
  | 'failed'
  /** A scheduled action the operator cancelled before it ran. */
  | 'cancelled'
  /** It may have happened: the request may have reached a service that does not dedupe repeats. */
  | 'unknown';

/** An action proposed by a planner, before it is stored. Parameters are structured, never free text. */
export interface ProposedAction {
  /**
   * Proposed after content from outside the operator (an e-mail, a document, a tool's answer)
   * entered the goal: even a read then waits for the operator's approval.
   */
  afterOutsideContent?: boolean;
  connector: string;
  operation: string;
  params: Record<string, unknown>;
  /** Why the planner proposes it, in plain words (shown on the card and in the log). */
  why: string;
  /** Run no earlier than this instant (ISO 8601): delayed execution, cancellable until then. */
  notBefore?: string;
}

/** What a dry-run shows: a title and the exact fields that will be sent. */
export interface Preview {
  title: string;
  /** The action as a gerund phrase for the story: "sending an e-mail to dana@example.com". */
  doing: string;
  /** The action done, for the story: "sent an e-mail to dana@example.com". */
  done: string;
  fields: Array<{ label: string; value: string }>;
  /** The full payload as it will leave Spine (e.g. the RFC 5322 message), when there is one. */
  body?: string;
}

export interface Action {
  id: number;
  goalId: number;
  operatorId: number;
  connector: string;
  operation: string;
  params: Record<string, unknown>;
  risk: RiskClass;
  reversible: boolean;
  idempotencyKey: string;
  preview: Preview;
  why: string;
  status: ActionStatus;
  result: unknown;
  /** `mayHaveHappened`: the call may have reached the service before it failed. */
  error: { code: string; message: string; mayHaveHappened?: boolean } | null;
  createdAt: Date;
  executedAt: Date | null;
  /** What the operation acts on (recipient, endpoint, calendar): the unit of "always allow". */
  target?: string | null;
  /** Delayed execution: an approved action waits until then. */
  scheduledAt?: Date | null;
  /** Set on a compensation: the action it undoes. */
  undoOf?: number | null;
  /** The key sent to the service when it is not `idempotencyKey` (a Retry that reuses the original's). */
  effectKey?: string | null;
  /** How many times an execution claimed it. */
  attempts?: number;
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected';
export type ApprovalDecision = 'approved' | 'rejected';

/** A chat message that shows an approval card, so it can be updated after the decision. */
export interface MessageRef {
  channel: Channel;
  conversation: string;
  messageId: string;
}

export interface Approval {
  id: number;
  actionId: number;
  goalId: number;
  operatorId: number;
  status: ApprovalStatus;
  decidedBy: string | null;
  decidedVia: Channel | null;
  decidedAt: Date | null;
  cards: MessageRef[];
  createdAt: Date;
}

/** One line of the business story: who did what, why, with a reference. Append-only. */
export interface SpineEvent {
  id: number;
  at: Date;
  operatorId: number | null;
  /** 'operator', 'spine', or a connector/person name. */
  actor: string;
  verb: string;
  object: string;
  why: string | null;
  ref: string | null;
  goalId: number | null;
  actionId: number | null;
  channel: Channel | null;
  payload: Record<string, unknown>;
}

export type NewEvent = Omit<
  SpineEvent,
  'id' | 'at' | 'payload' | 'why' | 'ref' | 'goalId' | 'actionId' | 'channel'
> &
  Partial<Pick<SpineEvent, 'payload' | 'why' | 'ref' | 'goalId' | 'actionId' | 'channel' | 'at'>>;

export type FailureStatus = 'open' | 'resolved' | 'dismissed';

export interface Failure {
  id: number;
  goalId: number | null;
  actionId: number | null;
  operatorId: number | null;
  kind: string;
  message: string;
  evidence: Record<string, unknown>;
  remediation: string[];
  status: FailureStatus;
  createdAt: Date;
  /** How it was closed, in words ("dismissed because it was a duplicate"). */
  resolution?: string | null;
  /** The remedy that closed it (`retry`, `undo`, `edit`, `dismiss`). */
  remedy?: string | null;
  /** Who closed it (`console:local`, `slack:U123`). */
  resolvedBy?: string | null;
}
