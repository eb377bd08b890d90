import type { Logger } from 'pino';
import { recordCompensation } from '../connectors/compensation.ts';
import { type ConnectorRuntime, hashParams, type PreparedAction } from '../connectors/connector-runtime.ts';
import { checkGuardrails, type GuardrailSettings } from '../connectors/guardrails.ts';
import { approvalCard, undoButtonAction } from '../core/cards.ts';
import type { Clock } from '../core/clock.ts';
import type { Action, Channel, Failure, MessageRef, ThreadRef } from '../core/domain.ts';
import { describeError, SpineError } from '../core/errors.ts';
import {
  closedFailureCard,
  type FailureRemedy,
  failureButtonAction,
  failureCard,
  failureRemedies,
} from '../core/failure-card.ts';
import type { JobQueue, SpineJob } from '../core/jobs.ts';
import type { ChatSender, MessageBlock, OutboundMessage } from '../core/message.ts';
import { formatEventTime } from '../core/narrative.ts';
import { decidePolicy, type PolicyVerdict } from '../core/policy.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { FailureCommand } from './failure-commands.ts';
import { editableParams, undoableActions } from './failure-remedies.ts';
import { actionDoneEvent, recordActionFailure } from './failures-record.ts';

export interface FailureDeskDeps {
  repos: Repositories;
  runtime: ConnectorRuntime;
  queue: JobQueue;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  guardrails: GuardrailSettings;
}

/** Who chose a remedy: an operator identity already authenticated by the intake. */
export interface FailureActor {
  operatorId: number;
  channel: Channel;
  userId: string;
  thread?: ThreadRef | undefined;
}

/** What a remedy did. `retried` and `dismissed` keep the names the intake used before. */
export type RemedyOutcome =
  | 'retried'
  | 'undone'
  | 'edited'
  | 'dismissed'
  | 'already_closed'
  | 'not_found'
  | 'not_offered'
  | 'needs_input'
  | 'refused'
  /** The operator said an action whose outcome was unknown did happen. */
  | 'confirmed';

export interface RemedyRequest {
  remedy: FailureRemedy;
  failureId: number | null;
  reason?: string | undefined;
  values?: Record<string, string> | undefined;
}

const LABELS: Record<FailureRemedy, string> = {
  retry: 'Retry',
  undo: 'Undo what was done',
  edit: 'Edit and retry',
  dismiss: 'Dismiss',
  happened: 'It happened',
  again: 'Do it again',
};

/** The typed form of a remedy, for the console, the CLI and the `failures` list. */
export function typedRemedy(remedy: FailureRemedy, failure: Failure, exampleKey?: string): string {
  switch (remedy) {
    case 'retry':
      return `retry #${failure.id}`;
    case 'undo':
      return `undo failure #${failure.id}`;
    case 'edit':
      return `edit failure #${failure.id} ${exampleKey ?? 'field'}="…"`;
    case 'dismiss':
      return `dismiss #${failure.id} because …`;
    case 'happened':
      return `it happened #${failure.id}`;
    case 'again':
      return `do it again #${failure.id}`;
  }
}

/** An edit that passed validation and the guard, ready to be stored once the failure is closed. */
interface PlannedEdit {
  failed: Action;
  prepared: PreparedAction;
  verdict: PolicyVerdict;
  key: string;
  changes: Array<[string, string]>;
}

/**
 * Failures as first-class objects: list the open ones, and apply the remedies they offer — retry
 * the step, undo what the goal already did, edit the failed action and run it again through the
 * guard (and approval when the policy says so), or dismiss with a reason. Every remedy starts
 * with a compare-and-set from `open`, so a double tap does its work once, and every remedy is an
 * event (actor, verb, the remedy, the reason).
 */
export class FailureDesk {
  readonly #deps: FailureDeskDeps;

  constructor(deps: FailureDeskDeps) {
    this.#deps = deps;
  }

  /** A typed failure command from chat. */
  async handle(command: FailureCommand, actor: FailureActor): Promise<RemedyOutcome | 'listed'> {
    if (command.kind === 'list') {
      await this.#reply(actor, await this.listMessage(actor.operatorId));
      return 'listed';
    }
    return this.remedy(command, actor);
  }

  /** The open failures of an operator, oldest first. */
  async open(operatorId: number): Promise<Failure[]> {
    return this.#deps.repos.failures.listOpen(operatorId);
  }

  /** The open failures as text, each with its remedies in typed form (the CLI and the console). */
  async listText(operatorId: number): Promise<string> {
    const failures = await this.open(operatorId);
    if (failures.length === 0) return 'No open failures.';
    const timezone = await this.#timezone(operatorId);
    const lines = [`Open failures (${failures.length}):`];
    for (const failure of failures) {
      lines.push(`• ${await this.#headline(failure, timezone)}`);
      lines.push(`  remedies: ${(await this.#typedRemedies(failure)).join(' · ')}`);
    }
    return lines.join('\n');
  }

  /** The open failures as one chat message with each one's remedies as buttons. */
  async listMessage(operatorId: number): Promise<OutboundMessage> {
    const failures = await this.open(operatorId);
    if (failures.length === 0) return { text: 'No open failures.' };
    const timezone = await this.#timezone(operatorId);
    const blocks: MessageBlock[] = [{ type: 'section', text: `Open failures (${failures.length}):` }];
    for (const failure of failures) {
      blocks.push({ type: 'section', text: await this.#headline(failure, timezone) });
      blocks.push({
        type: 'buttons',
        buttons: failureRemedies(failure).map((remedy) => ({
          action: failureButtonAction(remedy, failure.id),
          label: `${LABELS[remedy]} #${failure.id}`,
        })),
      });
    }
    return { text: await this.listText(operatorId), blocks };
  }

  async #headline(failure: Failure, timezone: string): Promise<string> {
    const when = formatEventTime(failure.createdAt, timezone, true);
    return `#${failure.id} ${failure.kind.replace('_', ' ')} (${when}): ${failure.message}`;
  }

  async #typedRemedies(failure: Failure): Promise<string[]> {
    const action = failure.actionId === null ? null : await this.#deps.repos.actions.get(failure.actionId);
    const example = action ? editableParams(action)[0]?.key : undefined;
    return failureRemedies(failure).map((remedy) => typedRemedy(remedy, failure, example));
  }

  /**
   * Apply a remedy. Checks come first (the failure is the operator's, open, offers the remedy, and
   * an edit is valid and allowed by the guard); then the compare-and-set closes it — of any number
   * of taps exactly one gets past it — then the event, then the work.
   */
  async remedy(request: RemedyRequest, actor: FailureActor): Promise<RemedyOutcome> {
    const { repos } = this.#deps;
    const failure =
      request.failureId === null
        ? await repos.failures.latestOpen(actor.operatorId)
        : await repos.failures.get(request.failureId);
    if (!failure || failure.operatorId !== actor.operatorId) {
      await this.#reply(
        actor,
        request.failureId === null
          ? 'There is no open failure.'
          : `There is no failure #${request.failureId}.`,
      );
      return 'not_found';
    }
    if (failure.status !== 'open') {
      await this.#reply(actor, `Failure #${failure.id} was already handled.`);
      return 'already_closed';
    }
    const offered = failureRemedies(failure);
    if (!offered.includes(request.remedy)) {
      await this.#reply(
        actor,
        `Failure #${failure.id} cannot be answered with “${LABELS[request.remedy]}”. It offers: ${(await this.#typedRemedies(failure)).join(' · ')}.`,
      );
      return 'not_offered';
    }
    let edit: PlannedEdit | undefined;
    let undoTargets: Action[] = [];
    if (request.remedy === 'edit') {
      const planned = await this.#planEdit(failure, request.values ?? {}, actor);
      if (typeof planned === 'string') return planned;
      edit = planned;
    }
    if (request.remedy === 'undo') {
      undoTargets = await this.#undoTargets(failure);
      if (undoTargets.length === 0) {
        await this.#reply(
          actor,
          `Nothing of goal #${failure.goalId ?? '?'} can be undone any more (nothing reversible ran, or the undo window closed).`,
        );
        return 'refused';
      }
    }
    const reason = request.remedy === 'dismiss' ? request.reason : undefined;
    const closed = await repos.failures.resolve(failure.id, {
      status: request.remedy === 'dismiss' ? 'dismissed' : 'resolved',
      remedy: request.remedy,
      resolution: resolutionText(request.remedy, reason, edit),
      resolvedBy: `${actor.channel}:${actor.userId}`,
      at: this.#deps.clock.now(),
    });
    if (!closed) {
      await this.#reply(actor, `Failure #${failure.id} was already handled.`);
      return 'already_closed';
    }
    await this.#updateCards(failure, request.remedy, reason);
    await repos.events.append({
      operatorId: actor.operatorId,
      actor: 'operator',
      verb: EVENT_VERBS[request.remedy],
      object: `failure #${failure.id}`,
      why: reason ?? (edit ? `changed ${edit.changes.map(([key]) => key).join(', ')}` : null),
      goalId: failure.goalId,
      actionId: failure.actionId,
      channel: actor.channel,
      payload: {
        failureId: failure.id,
        kind: failure.kind,
        remedy: request.remedy,
        ...(reason ? { reason } : {}),
        ...(edit
          ? {
              before: Object.fromEntries(edit.changes.map(([key]) => [key, edit.failed.params[key]])),
              after: Object.fromEntries(edit.changes),
            }
          : {}),
      },
    });
    switch (request.remedy) {
      case 'dismiss':
        await this.#reply(actor, `Dismissed failure #${failure.id}${reason ? ` (${reason})` : ''}.`);
        return 'dismissed';
      case 'retry':
        await this.#retry(failure, actor);
        return 'retried';
      case 'undo':
        await this.#undo(failure, undoTargets, actor);
        return 'undone';
      case 'edit':
        if (edit) await this.#runEdit(failure, edit, actor);
        return 'edited';
      case 'happened':
        await this.#happened(failure, actor);
        return 'confirmed';
      case 'again':
        await this.#again(failure, actor);
        return 'retried';
    }
  }

  /** Check an edit before anything changes: known fields, valid parameters, and the guard's verdict. */
  async #planEdit(
    failure: Failure,
    values: Record<string, string>,
    actor: FailureActor,
  ): Promise<PlannedEdit | 'needs_input' | 'refused'> {
    const failed = failure.actionId === null ? null : await this.#deps.repos.actions.get(failure.actionId);
    if (!failed) {
      await this.#reply(actor, `Failure #${failure.id} has no action to edit.`);
      return 'refused';
    }
    const fields = editableParams(failed);
    const editable = new Set(fields.map((field) => field.key));
    if (Object.keys(values).length === 0) {
      await this.#reply(actor, {
        text: [
          `To edit and retry failure #${failure.id}, type the new values, e.g. \`edit failure #${failure.id} ${fields[0]?.key ?? 'field'}="…"\`. Now:`,
          ...fields.map((field) => `• ${field.key} = ${JSON.stringify(field.value)}`),
        ].join('\n'),
      });
      return 'needs_input';
    }
    const unknown = Object.keys(values).filter((key) => !editable.has(key));
    if (unknown.length > 0) {
      await this.#reply(
        actor,
        `I cannot change ${unknown.join(', ')} of failure #${failure.id}; the fields you can edit are ${[...editable].join(', ')}.`,
      );
      return 'refused';
    }
    const changes = Object.entries(values).filter(([key, value]) => failed.params[key] !== value);
    if (changes.length === 0) {
      await this.#reply(
        actor,
        `Those are the values that failed already; say \`retry #${failure.id}\` to run it as it was.`,
      );
      return 'refused';
    }
    let prepared: PreparedAction;
    try {
      prepared = await this.#deps.runtime.prepare({
        connector: failed.connector,
        operation: failed.operation,
        params: { ...failed.params, ...Object.fromEntries(changes) },
        why: failed.why,
      });
    } catch (error) {
      await this.#reply(actor, error instanceof SpineError ? error.message : describeError(error));
      return 'refused';
    }
    const key = `${failed.idempotencyKey}-edit-${failure.id}`;
    const operator = await this.#deps.repos.operators.get(actor.operatorId);
    const now = this.#deps.clock.now();
    const guardrails = await checkGuardrails(this.#deps.repos.connectorState, this.#deps.guardrails, {
      operatorId: actor.operatorId,
      prepared,
      now,
      timezone: operator?.timezone ?? 'UTC',
      idempotencyKey: key,
    });
    const verdict = decidePolicy({
      risk: prepared.risk,
      external: prepared.external,
      now,
      probationUntil: operator?.probationUntil ?? null,
      trusted: guardrails.trusted,
      limitExceeded: guardrails.limitExceeded,
    });
    if (verdict.decision === 'refuse') {
      await this.#reply(actor, `I won't do that: ${verdict.reason}. Failure #${failure.id} stays open.`);
      return 'refused';
    }
    return { failed, prepared, verdict, key, changes };
  }

  async #undoTargets(failure: Failure): Promise<Action[]> {
    if (failure.goalId === null) return [];
    const actions = await this.#deps.repos.actions.listForGoal(failure.goalId);
    return undoableActions(actions, this.#deps.clock.now(), this.#deps.guardrails.undoWindowMs);
  }

  /**
   * Retry: the failed action again, or the failed job again under a new job id. When the failed
   * call may have happened (a timeout, a lost answer) and the service dedupes on the key, the
   * retry sends the original's key, so a call that did land is not made again; otherwise a new key.
   */
  async #retry(failure: Failure, actor: FailureActor): Promise<void> {
    const { repos } = this.#deps;
    if (failure.actionId !== null) {
      const failed = await repos.actions.get(failure.actionId);
      if (!failed) return;
      const reuseKey =
        failed.error?.mayHaveHappened === true &&
        this.#deps.runtime.operation(failed.connector, failed.operation).retry === 'by_key';
      const retry = await repos.connectorState.insertRetry(failed, hashParams(failed.params), {
        effectKey: reuseKey ? (failed.effectKey ?? failed.idempotencyKey) : null,
      });
      await this.#run(retry, actor, `you asked to retry after failure #${failure.id}`, 'Done on retry');
      return;
    }
    const job = failure.evidence.job as SpineJob | undefined;
    if (job && (job.name === 'run-goal' || job.name === 'resume-goal')) {
      // Back to running, so recovery re-enqueues it too if Redis loses the retry.
      await repos.goals.setStatus(job.data.goalId, 'running');
      await this.#deps.queue.enqueue({ ...job, data: { ...job.data, retryOf: failure.id } } as SpineJob);
    } else if (job && job.name === 'send-digest') {
      await this.#deps.queue.enqueue({
        name: 'send-digest',
        data: { ...job.data, localDate: undefined, requestId: `retry-${failure.id}` },
      } as SpineJob);
    }
    await this.#reply(actor, `Retrying (failure #${failure.id}).`);
  }

  /**
   * It happened: the operator checked and the action whose outcome was unknown did happen. It is
   * marked succeeded (its Undo offered where the world allows), never run again.
   */
  async #happened(failure: Failure, actor: FailureActor): Promise<void> {
    const { repos } = this.#deps;
    const action = failure.actionId === null ? null : await repos.actions.get(failure.actionId);
    if (!action) return;
    const settled = await repos.actions.settleUnknown(action.id, {
      status: 'succeeded',
      result: {
        confirmedBy: `${actor.channel}:${actor.userId}`,
        confirmedAt: this.#deps.clock.now().toISOString(),
      },
    });
    if (!settled) {
      await this.#reply(actor, `Action #${action.id} is ${action.status} already; nothing changed.`);
      return;
    }
    await repos.events.append(actionDoneEvent(settled, `you confirmed it happened (failure #${failure.id})`));
    const text = `Marked as done: ${settled.preview.done}.`;
    await this.#reply(
      actor,
      settled.reversible
        ? {
            text,
            blocks: [
              { type: 'section', text },
              { type: 'buttons', buttons: [{ action: undoButtonAction(settled.id), label: 'Undo' }] },
            ],
          }
        : text,
    );
  }

  /**
   * Do it again: the operator asked for the action once more although it may have happened, so
   * it runs as a new action under a new key (the service must not take it for a repeat).
   */
  async #again(failure: Failure, actor: FailureActor): Promise<void> {
    const { repos } = this.#deps;
    const action = failure.actionId === null ? null : await repos.actions.get(failure.actionId);
    if (!action) return;
    const again = await repos.connectorState.insertRetry(action, hashParams(action.params), {
      label: 'again',
    });
    await this.#run(again, actor, `you asked to do it again after failure #${failure.id}`, 'Done again');
  }

  /** Undo: the compensation of each reversible action the goal already ran, once each. */
  async #undo(failure: Failure, targets: Action[], actor: FailureActor): Promise<void> {
    const { repos } = this.#deps;
    for (const original of targets) {
      let compensation: Action;
      try {
        const recorded = await recordCompensation(
          this.#deps.runtime,
          repos.connectorState,
          original,
          `you chose to undo what was done before failure #${failure.id}`,
        );
        compensation = recorded.action;
      } catch (error) {
        await this.#reply(actor, error instanceof SpineError ? error.message : describeError(error));
        continue;
      }
      await this.#run(
        compensation,
        actor,
        `you chose to undo action #${original.id} after failure #${failure.id}`,
        'Undone',
      );
    }
  }

  /** Edit and retry: store the edited action under its own key; run it, or ask for approval first. */
  async #runEdit(failure: Failure, edit: PlannedEdit, actor: FailureActor): Promise<void> {
    const { repos } = this.#deps;
    const needsApproval = edit.verdict.decision === 'approval';
    const stored = await this.#deps.runtime.record(edit.prepared, {
      goalId: edit.failed.goalId,
      operatorId: edit.failed.operatorId,
      idempotencyKey: edit.key,
      status: needsApproval ? 'awaiting_approval' : 'approved',
    });
    await repos.connectorState.annotate(stored.action.id, {
      target: edit.prepared.target,
      amount: edit.prepared.amount,
      // Once approved, the due-check runs it: the goal's graph has already finished.
      scheduledAt: needsApproval ? this.#deps.clock.now() : null,
    });
    await repos.events.append({
      operatorId: edit.failed.operatorId,
      actor: 'spine',
      verb: 'proposed',
      object: edit.prepared.preview.doing,
      why: `you edited it after failure #${failure.id}`,
      ref: `action #${stored.action.id}`,
      goalId: edit.failed.goalId,
      actionId: stored.action.id,
      payload: { policy: edit.verdict.decision, reason: edit.verdict.reason, editOf: edit.failed.id },
    });
    if (!needsApproval) {
      await this.#run(
        stored.action,
        actor,
        `you edited it after failure #${failure.id}`,
        'Done after your edit',
      );
      return;
    }
    const action = (await repos.actions.get(stored.action.id)) ?? stored.action;
    const approval = await repos.approvals.insertOrGet({
      actionId: action.id,
      goalId: action.goalId,
      operatorId: action.operatorId,
    });
    const thread = actor.thread ?? (await repos.goals.get(action.goalId))?.thread;
    if (thread && approval.cards.length === 0) {
      const ref = await this.#deps.chat.post(
        thread,
        approvalCard(action, approval, `edited after failure #${failure.id}; ${edit.verdict.reason}`),
      );
      await repos.approvals.addCard(approval.id, ref);
    }
  }

  /**
   * After an approval was decided: when it is the approval of an edited retry (its goal's graph
   * has finished, so no graph resumes it), carry the decision onto the action and run it once.
   * The action is also scheduled for now, so the due-check runs it if a crash comes in between.
   */
  async afterDecision(approvalId: number, thread?: ThreadRef): Promise<void> {
    const { repos } = this.#deps;
    const approval = await repos.approvals.get(approvalId);
    if (!approval || approval.status === 'pending') return;
    const action = await repos.actions.get(approval.actionId);
    if (action?.status !== 'awaiting_approval' || !EDIT_KEY.test(action.idempotencyKey)) return;
    if (!(await repos.actions.transition(action.id, ['awaiting_approval'], approval.status))) return;
    const goalThread = (await repos.goals.get(action.goalId))?.thread;
    const actor: FailureActor = {
      operatorId: action.operatorId,
      channel: thread?.channel ?? goalThread?.channel ?? 'system',
      userId: approval.decidedBy ?? 'operator',
      thread: thread ?? goalThread,
    };
    if (approval.status === 'rejected') {
      await this.#reply(actor, `Not done (you rejected it): ${action.preview.title}.`);
      return;
    }
    const approved = (await repos.actions.get(action.id)) ?? action;
    await this.#run(approved, actor, 'you approved it after editing it', 'Done after your edit');
  }

  /** Run a stored action once, tell the story, and reply: done (with Undo) or a new failure card. */
  async #run(action: Action, actor: FailureActor, why: string, donePrefix: string): Promise<void> {
    const { repos } = this.#deps;
    const outcome = await this.#deps.runtime.execute(action.id);
    const stored = outcome.action;
    if (outcome.status === 'succeeded') {
      if (!outcome.replayed) {
        await repos.events.append(actionDoneEvent(stored, why));
      }
      const text = `${donePrefix}: ${stored.preview.done}.`;
      const undoable = stored.reversible && !stored.undoOf;
      await this.#reply(
        actor,
        undoable
          ? {
              text,
              blocks: [
                { type: 'section', text },
                { type: 'buttons', buttons: [{ action: undoButtonAction(stored.id), label: 'Undo' }] },
              ],
            }
          : text,
      );
      return;
    }
    if (outcome.replayed) {
      await this.#reply(
        actor,
        outcome.status === 'unknown'
          ? `I could not tell earlier whether that happened: ${stored.error?.message ?? 'no answer'}.`
          : `That failed earlier: ${stored.error?.message ?? 'unknown error'}.`,
      );
      return;
    }
    const failure = await this.recordActionFailure(stored);
    const thread = actor.thread ?? (await repos.goals.get(stored.goalId))?.thread;
    if (thread) {
      const ref = await this.#deps.chat.post(thread, failureCard(failure));
      await repos.failures.addCard(failure.id, ref);
    }
  }

  /** A failed action becomes a failure with the remedies that make sense for it, and an event. */
  async recordActionFailure(action: Action): Promise<Failure> {
    return recordActionFailure(this.#deps.repos, action, {
      now: this.#deps.clock.now(),
      undoWindowMs: this.#deps.guardrails.undoWindowMs,
    });
  }

  async #updateCards(failure: Failure, remedy: FailureRemedy, reason: string | undefined): Promise<void> {
    for (const ref of (failure.evidence.cards as MessageRef[] | undefined) ?? []) {
      await this.#deps.chat
        .update(ref, closedFailureCard(failure, remedy, reason))
        .catch((error: unknown) => {
          this.#deps.logger.warn(
            { err: String(error), failureId: failure.id },
            'could not update a failure card',
          );
        });
    }
  }

  async #timezone(operatorId: number): Promise<string> {
    return (await this.#deps.repos.operators.get(operatorId))?.timezone ?? 'UTC';
  }

  async #reply(actor: FailureActor, message: OutboundMessage | string): Promise<void> {
    if (!actor.thread) return;
    await this.#deps.chat.post(actor.thread, typeof message === 'string' ? { text: message } : message);
  }
}

/** Idempotency keys of edited retries: `<failed key>-edit-<failure id>`. */
const EDIT_KEY = /-edit-\d+$/;

/** The event's verb per remedy: "You dismissed failure #4 because it was a duplicate". */
const EVENT_VERBS: Record<FailureRemedy, string> = {
  retry: 'chose to retry after',
  undo: 'chose to undo what was done before',
  edit: 'edited and retried after',
  dismiss: 'dismissed',
  happened: 'confirmed what happened in',
  again: 'asked to do it again after',
};

function resolutionText(
  remedy: FailureRemedy,
  reason: string | undefined,
  edit: PlannedEdit | undefined,
): string {
  switch (remedy) {
    case 'retry':
      return 'retried';
    case 'undo':
      return 'undid what was done';
    case 'edit':
      return `edited (${edit?.changes.map(([key]) => key).join(', ') ?? ''}) and retried`;
    case 'dismiss':
      return reason ? `dismissed because ${reason}` : 'dismissed';
    case 'happened':
      return 'it happened (confirmed by the operator)';
    case 'again':
      return 'done again under a new key';
  }
}
