import type { Logger } from 'pino';
import { recordCompensation } from '../connectors/compensation.ts';
import type { ConnectorRuntime } from '../connectors/connector-runtime.ts';
import type { GuardrailSettings } from '../connectors/guardrails.ts';
import type { ConnectorButton } from '../core/cards.ts';
import type { Clock } from '../core/clock.ts';
import type { ConnectorCommand } from '../core/commands.ts';
import type { Action, Channel, ThreadRef } from '../core/domain.ts';
import { describeError, SpineError } from '../core/errors.ts';
import { type FailureRemedy, failureCard } from '../core/failure-card.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import { isTrustable } from '../core/policy.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { FailureDesk } from '../ledger/failures.ts';
import { actionDoneEvent } from '../ledger/failures-record.ts';

export interface ConnectorCommandsDeps {
  repos: Repositories;
  runtime: ConnectorRuntime;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  guardrails: GuardrailSettings;
  /** Failures and their remedies (retry, undo, edit and retry, dismiss). */
  failures: FailureDesk;
  /** Approve an approval as the clicker (Intake.decide), for "Always allow". */
  approve: (input: {
    approvalId: number;
    channel: Channel;
    userId: string;
    thread?: ThreadRef;
  }) => Promise<boolean>;
}

/** Who pressed or typed: an operator identity already authenticated by the intake. */
export interface Actor {
  operatorId: number;
  channel: Channel;
  userId: string;
  thread?: ThreadRef | undefined;
}

function when(at: Date, timezone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(at);
}

/**
 * The chat side of connectors and guardrails: undo, trust/untrust, "Always allow", cancelling a
 * scheduled action, failure remediation, and the status lines they add.
 */
export class ConnectorCommands {
  readonly #deps: ConnectorCommandsDeps;

  constructor(deps: ConnectorCommandsDeps) {
    this.#deps = deps;
  }

  async #reply(actor: Actor, message: OutboundMessage | string): Promise<void> {
    if (!actor.thread) return;
    await this.#deps.chat.post(actor.thread, typeof message === 'string' ? { text: message } : message);
  }

  async #timezone(operatorId: number): Promise<string> {
    return (await this.#deps.repos.operators.get(operatorId))?.timezone ?? 'UTC';
  }

  /** A typed command. */
  async handle(command: ConnectorCommand, actor: Actor): Promise<void> {
    switch (command.kind) {
      case 'undo':
        await this.undo(command.actionId, actor);
        return;
      case 'trust':
        if (command.grant) await this.grant(command.grant, actor);
        else await this.#reply(actor, await this.trustList(actor.operatorId));
        return;
      case 'untrust':
        await this.untrust(command.ruleId, actor);
        return;
      case 'cancel':
        await this.cancel(command.actionId, actor);
        return;
      case 'connectors':
        await this.#reply(actor, this.connectorsReport());
        return;
      case 'remedy': {
        const failureId =
          command.failureId ??
          (await this.#deps.repos.failures.listOpen(actor.operatorId)).at(-1)?.id ??
          null;
        if (failureId === null) await this.#reply(actor, 'There is no open failure.');
        else await this.remedy(command.remedy, failureId, actor);
        return;
      }
      case 'always_allow': {
        const approvalId =
          command.approvalId ??
          (await this.#deps.repos.approvals.listPending(actor.operatorId)).at(-1)?.id ??
          null;
        if (approvalId === null) await this.#reply(actor, 'Nothing is waiting for your approval.');
        else await this.alwaysAllow(approvalId, actor);
        return;
      }
    }
  }

  /** A button press. */
  async press(button: ConnectorButton, actor: Actor): Promise<void> {
    switch (button.kind) {
      case 'always_allow':
        await this.alwaysAllow(button.approvalId, actor);
        return;
      case 'undo':
        await this.undo(button.actionId, actor);
        return;
      case 'cancel':
        await this.cancel(button.actionId, actor);
        return;
      case 'failure':
        await this.remedy(button.remedy, button.failureId, actor);
        return;
    }
  }

  /**
   * Undo a reversible action within the window: the compensation is stored approved with
   * `undo_of`, run once through the runtime, and both sides go into the event log.
   */
  async undo(actionId: number | null, actor: Actor): Promise<{ status: 'undone' | 'refused' | 'failed' }> {
    const { repos } = this.#deps;
    const original =
      actionId === null
        ? await repos.connectorState.latestUndoable(actor.operatorId)
        : await repos.actions.get(actionId);
    if (!original || original.operatorId !== actor.operatorId) {
      await this.#reply(
        actor,
        actionId === null ? 'There is nothing I can undo.' : `There is no action #${actionId} of yours.`,
      );
      return { status: 'refused' };
    }
    const now = this.#deps.clock.now();
    const timezone = await this.#timezone(actor.operatorId);
    if (!original.reversible) {
      await this.#reply(
        actor,
        `“${original.preview.title}” cannot be undone: ${original.connector} does not allow it.`,
      );
      return { status: 'refused' };
    }
    const existing = await repos.connectorState.compensationOf(original.id);
    if (!existing) {
      const closesAt = original.executedAt
        ? new Date(original.executedAt.getTime() + this.#deps.guardrails.undoWindowMs)
        : null;
      if (!closesAt || now > closesAt) {
        await this.#reply(
          actor,
          closesAt
            ? `Too late to undo #${original.id}: the undo window closed on ${when(closesAt, timezone)}. You can still fix it by hand.`
            : `Action #${original.id} has not run, so there is nothing to undo.`,
        );
        return { status: 'refused' };
      }
    }
    let compensation: Action;
    try {
      const recorded = await recordCompensation(
        this.#deps.runtime,
        repos.connectorState,
        original,
        'you asked to undo it',
      );
      compensation = recorded.action;
      if (recorded.created) {
        await repos.events.append({
          operatorId: actor.operatorId,
          actor: 'operator',
          verb: 'asked to undo',
          object: original.preview.doing,
          ref: `action #${original.id}`,
          goalId: original.goalId,
          actionId: original.id,
          channel: actor.channel,
        });
      }
    } catch (error) {
      await this.#reply(
        actor,
        error instanceof SpineError ? error.message : `I could not undo that: ${describeError(error)}`,
      );
      return { status: 'refused' };
    }
    const outcome = await this.#deps.runtime.execute(compensation.id);
    const stored = outcome.action;
    if (outcome.status === 'succeeded') {
      if (!outcome.replayed) {
        await repos.events.append(actionDoneEvent(stored, `you asked to undo action #${original.id}`));
      }
      await this.#reply(actor, `Undone: ${stored.preview.done}.`);
      return { status: 'undone' };
    }
    if (!outcome.replayed) await this.#fail(stored, actor);
    else
      await this.#reply(
        actor,
        `The undo of #${original.id} failed earlier: ${stored.error?.message ?? 'unknown error'}.`,
      );
    return { status: 'failed' };
  }

  async #fail(action: Action, actor: Actor): Promise<void> {
    const failure = await this.#deps.failures.recordActionFailure(action);
    if (!actor.thread) return;
    const ref = await this.#deps.chat.post(actor.thread, failureCard(failure));
    await this.#deps.repos.failures.addCard(failure.id, ref);
  }

  /** "Always allow": approve the card, then trust its operation and target from now on. */
  async alwaysAllow(approvalId: number, actor: Actor): Promise<void> {
    const { repos } = this.#deps;
    const approval = await repos.approvals.get(approvalId);
    const action = approval ? await repos.actions.get(approval.actionId) : null;
    if (!approval || !action || approval.operatorId !== actor.operatorId) {
      await this.#reply(actor, `There is no approval #${approvalId} waiting for you.`);
      return;
    }
    if (!isTrustable(action.risk) || !action.target) {
      await this.#reply(actor, `${action.risk} actions always need your approval; I approved nothing.`);
      return;
    }
    await this.grant(
      { connector: action.connector, operation: action.operation, target: action.target },
      actor,
    );
    if (approval.status === 'pending') {
      await this.#deps.approve({
        approvalId,
        channel: actor.channel,
        userId: actor.userId,
        ...(actor.thread ? { thread: actor.thread } : {}),
      });
    }
  }

  async grant(rule: { connector: string; operation: string; target: string }, actor: Actor): Promise<void> {
    const { repos } = this.#deps;
    let risk: string;
    try {
      risk = this.#deps.runtime.operation(rule.connector, rule.operation).risk;
    } catch (error) {
      await this.#reply(actor, error instanceof SpineError ? error.message : describeError(error));
      return;
    }
    if (risk !== 'write' && risk !== 'read') {
      await this.#reply(
        actor,
        `${rule.connector} ${rule.operation} is a ${risk} action: it always needs your approval.`,
      );
      return;
    }
    const trust = await repos.connectorState.grantTrust({
      operatorId: actor.operatorId,
      ...rule,
      grantedVia: `${actor.channel}:${actor.userId}`,
      at: this.#deps.clock.now(),
    });
    await repos.events.append({
      operatorId: actor.operatorId,
      actor: 'operator',
      verb: 'chose to always allow',
      object: `${rule.connector} ${rule.operation} to ${rule.target}`,
      ref: `trust rule #${trust.id}`,
      channel: actor.channel,
    });
    await this.#reply(
      actor,
      `From now on I will ${rule.connector} ${rule.operation} to ${rule.target} without asking (after probation). Say \`untrust ${trust.id}\` to stop.`,
    );
  }

  async untrust(ruleId: number, actor: Actor): Promise<void> {
    const { repos } = this.#deps;
    const revoked = await repos.connectorState.revokeTrust(actor.operatorId, ruleId, this.#deps.clock.now());
    if (!revoked) {
      await this.#reply(actor, `There is no active trust rule #${ruleId}. Say \`trust\` to list them.`);
      return;
    }
    await repos.events.append({
      operatorId: actor.operatorId,
      actor: 'operator',
      verb: 'stopped always allowing',
      object: `${revoked.connector} ${revoked.operation} to ${revoked.target}`,
      ref: `trust rule #${revoked.id}`,
      channel: actor.channel,
    });
    await this.#reply(
      actor,
      `I will ask again before ${revoked.connector} ${revoked.operation} to ${revoked.target}.`,
    );
  }

  async trustList(operatorId: number): Promise<string> {
    const rules = await this.#deps.repos.connectorState.listTrust(operatorId);
    if (rules.length === 0) return 'No "always allow" rules: I ask before every external write.';
    return [
      `Always allowed (${rules.length}):`,
      ...rules.map(
        (rule) =>
          `• #${rule.id} ${rule.connector} ${rule.operation} to ${rule.target} — \`untrust ${rule.id}\``,
      ),
    ].join('\n');
  }

  /** Cancel a scheduled action before it runs. */
  async cancel(actionId: number, actor: Actor): Promise<void> {
    const { repos } = this.#deps;
    const cancelled = await repos.connectorState.cancelScheduled(actor.operatorId, actionId);
    if (!cancelled) {
      const action = await repos.actions.get(actionId);
      await this.#reply(
        actor,
        action && action.operatorId === actor.operatorId
          ? `Action #${actionId} is ${action.status.replace('_', ' ')}, so it cannot be cancelled.`
          : `There is no scheduled action #${actionId}.`,
      );
      return;
    }
    await repos.events.append({
      operatorId: actor.operatorId,
      actor: 'operator',
      verb: 'cancelled',
      object: cancelled.preview.doing,
      why: 'it was scheduled and had not run yet',
      ref: `action #${cancelled.id}`,
      goalId: cancelled.goalId,
      actionId: cancelled.id,
      channel: actor.channel,
    });
    await this.#reply(actor, `Cancelled: ${cancelled.preview.title}. It will not run.`);
  }

  /** Remediation of a failure: the ledger's failure desk applies it (ledger/failures.ts). */
  async remedy(remedy: FailureRemedy, failureId: number, actor: Actor): Promise<void> {
    await this.#deps.failures.remedy({ remedy, failureId }, actor);
  }

  /** Lines for `status`: scheduled actions, trust rules, and connectors whose circuit is not closed. */
  async statusLines(operatorId: number): Promise<string[]> {
    const lines: string[] = [];
    const timezone = await this.#timezone(operatorId);
    const scheduled = await this.#deps.repos.connectorState.listScheduled(operatorId);
    if (scheduled.length > 0) {
      lines.push(`Scheduled (${scheduled.length}):`);
      for (const action of scheduled) {
        lines.push(
          `• #${action.id} ${action.preview.title} at ${action.scheduledAt ? when(action.scheduledAt, timezone) : '?'}` +
            `${action.status === 'awaiting_approval' ? ' (waiting for your approval)' : ''} — \`cancel ${action.id}\``,
        );
      }
    }
    const rules = await this.#deps.repos.connectorState.listTrust(operatorId);
    if (rules.length > 0) {
      lines.push(`Always allowed (${rules.length}):`);
      for (const rule of rules)
        lines.push(`• #${rule.id} ${rule.connector} ${rule.operation} to ${rule.target}`);
    }
    const unhealthy = this.#deps.runtime.health().filter((health) => health.circuit !== 'closed');
    for (const health of unhealthy) {
      lines.push(
        `Connector ${health.connector}: circuit ${health.circuit.replace('_', '-')} — ${health.lastError ?? 'no error recorded'}`,
      );
    }
    return lines;
  }

  /** Every connector with its operations and health. */
  connectorsReport(): string {
    const health = new Map(this.#deps.runtime.health().map((entry) => [entry.connector, entry]));
    return this.#deps.runtime.connectors
      .map((connector) => {
        const entry = health.get(connector.name);
        const operations = Object.values(connector.operations)
          .map(
            (operation) => `${operation.name} (${operation.risk}${operation.reversible ? ', undoable' : ''})`,
          )
          .join(', ');
        const state = entry
          ? `circuit ${entry.circuit.replace('_', '-')}${entry.lastError ? `, last error: ${entry.lastError}` : ''}`
          : 'circuit closed';
        return `• ${connector.name} — ${connector.description}: ${operations}. ${state}`;
      })
      .join('\n');
  }
}
