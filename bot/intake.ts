import type pg from 'pg';
import type { Logger } from 'pino';
import { decidedCard, parseApprovalButton, parseConnectorButton } from '../core/cards.ts';
import type { Clock } from '../core/clock.ts';
import { type ChatCommand, HELP_TEXT, parseChatCommand } from '../core/commands.ts';
import type { ApprovalDecision, Channel, Identity, ThreadRef } from '../core/domain.ts';
import { parseFailureButton } from '../core/failure-card.ts';
import type { JobQueue } from '../core/jobs.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import { channelLabel, renderNarrative } from '../core/narrative.ts';
import { OPERATIONS_HELP, parseOperationsCommand } from '../core/operations-commands.ts';
import { recordGoalOnce } from '../db/repositories/goal-intake.ts';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';
import { PLAYBOOK_HELP } from '../playbooks/playbook-command.ts';
import type { ConnectorCommands } from './connector-commands.ts';
import { MemoryCommands } from './memory-commands.ts';
import { type FailureOutcome, Operations } from './operations.ts';
import type { PlaybookCommands } from './playbook-commands.ts';

/** A message from a chat platform, already verified by its adapter. */
export interface InboundMessage {
  channel: Channel;
  /** The platform's delivery id (Slack event_id, Telegram update_id): retries carry the same one. */
  deliveryId: string;
  /** The sender's id on that platform. */
  userId: string;
  text: string;
  thread: ThreadRef;
}

export type IntakeResult =
  | { kind: 'goal'; goalId: number; duplicate: boolean }
  | { kind: 'command' }
  | { kind: 'refused'; reason: 'stranger' | 'invalid' };

export type DecisionOutcome =
  | { kind: 'decided'; approvalId: number; decision: ApprovalDecision }
  | { kind: 'already_decided'; approvalId: number }
  | { kind: 'not_found' }
  | { kind: 'forbidden' };

export interface IntakeDeps {
  pool: pg.Pool;
  queue: JobQueue;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  /** The `usage` command's text (model calls, tokens, cost, budget); injected by the app. */
  usageReport?: (operatorId: number) => Promise<string>;
  /** Longest message accepted as a goal. */
  maxMessageLength?: number;
  /** Told when an operator changes their digest time (queue mode moves the job scheduler). */
  onDigestTimeChanged?: (operatorId: number) => Promise<void>;
  /** Undo, trust, cancel and failure remediation (connectors and guardrails). */
  connectorCommands?: ConnectorCommands;
  /** Memory, for `forget`, `ingest` and re-embedding progress in `status`. */
  memory?: PgvectorMemoryStore;
  /** The `playbook …` commands and proposal buttons. */
  playbooks?: PlaybookCommands;
}

const DEFAULT_MAX_MESSAGE_LENGTH = 20_000;

/**
 * Where every chat message and button click enters Spine, whatever the platform: authenticate the
 * sender, answer commands, record goals exactly once per delivery, and decide approvals.
 */
export class Intake {
  readonly #deps: IntakeDeps;
  readonly #repos: Repositories;
  readonly #operations: Operations;
  readonly #memory: MemoryCommands | undefined;

  constructor(deps: IntakeDeps) {
    this.#deps = deps;
    this.#repos = createRepositories(deps.pool);
    this.#operations = new Operations({ ...deps, repos: this.#repos, queue: deps.queue });
    this.#memory = deps.memory
      ? new MemoryCommands({ db: deps.pool, memory: deps.memory, chat: deps.chat, clock: deps.clock })
      : undefined;
  }

  /**
   * A button click from any adapter, already verified by it: `approval:…` decides an approval,
   * `failure:retry|dismiss:<id>` answers a failure. Only the operator's identities may click.
   */
  async handleButton(input: {
    action: string;
    channel: Channel;
    userId: string;
    thread?: ThreadRef;
  }): Promise<DecisionOutcome | { kind: 'failure'; outcome: FailureOutcome } | { kind: 'unknown' }> {
    const approval = parseApprovalButton(input.action);
    if (approval)
      return this.decide({
        ...approval,
        channel: input.channel,
        userId: input.userId,
        ...(input.thread ? { thread: input.thread } : {}),
      });
    const failure = parseFailureButton(input.action);
    if (!failure) return { kind: 'unknown' };
    const identity = await this.#repos.operators.findIdentity(input.channel, input.userId);
    if (!identity) {
      await this.#refuseStranger(
        input.channel,
        input.userId,
        `${failure.choice} failure #${failure.failureId}`,
        input.thread,
      );
      return { kind: 'forbidden' };
    }
    const outcome = await this.#remedyFailure(
      failure.failureId,
      failure.choice,
      identity,
      input.userId,
      input.thread,
    );
    return { kind: 'failure', outcome };
  }

  /**
   * Retry or dismiss a failure. A failed action is retried by the connector commands (the action
   * again, under a new key); a failed job (no action) by re-running its job.
   */
  async #remedyFailure(
    failureId: number,
    choice: 'retry' | 'dismiss',
    identity: Identity,
    userId: string,
    thread: ThreadRef | undefined,
  ): Promise<FailureOutcome> {
    const failure = await this.#repos.failures.get(failureId);
    if (
      failure &&
      failure.operatorId === identity.operatorId &&
      failure.actionId !== null &&
      this.#deps.connectorCommands
    ) {
      if (failure.status !== 'open') {
        if (thread) await this.#reply(thread, `Failure #${failureId} is not open any more.`);
        return 'already_closed';
      }
      await this.#deps.connectorCommands.remedy(choice, failureId, {
        operatorId: identity.operatorId,
        channel: identity.channel,
        userId,
        thread,
      });
      return choice === 'retry' ? 'retried' : 'dismissed';
    }
    return this.#operations.decideFailure({
      failureId,
      choice,
      operatorId: identity.operatorId,
      channel: identity.channel,
      ...(thread ? { thread } : {}),
    });
  }

  async handleMessage(message: InboundMessage): Promise<IntakeResult> {
    const identity = await this.#repos.operators.findIdentity(message.channel, message.userId);
    if (!identity) {
      await this.#refuseStranger(message.channel, message.userId, 'send a message', message.thread);
      return { kind: 'refused', reason: 'stranger' };
    }
    const text = message.text.trim();
    const maxLength = this.#deps.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
    if (text.length === 0) {
      await this.#reply(message.thread, 'I got an empty message. Type `help` to see what I can do.');
      return { kind: 'refused', reason: 'invalid' };
    }
    if (text.length > maxLength) {
      await this.#reply(
        message.thread,
        `That message is too long for me (${text.length.toLocaleString('en')} characters; the limit is ` +
          `${maxLength.toLocaleString('en')}). Please send a shorter one.`,
      );
      return { kind: 'refused', reason: 'invalid' };
    }
    const operations = parseOperationsCommand(text);
    if (operations?.kind === 'failure') {
      const failureId =
        operations.failureId ?? (await this.#repos.failures.listOpen(identity.operatorId)).at(-1)?.id ?? null;
      if (failureId === null) await this.#reply(message.thread, 'There is no open failure.');
      else await this.#remedyFailure(failureId, operations.choice, identity, message.userId, message.thread);
      return { kind: 'command' };
    }
    if (operations) {
      await this.#operations.handle(operations, identity, message.thread);
      return { kind: 'command' };
    }
    const origin = { operatorId: identity.operatorId, channel: message.channel, thread: message.thread };
    if (await this.#deps.playbooks?.handle(text, { ...origin, deliveryId: message.deliveryId }))
      return { kind: 'command' };
    const command = parseChatCommand(text);
    if (command) {
      switch (command.kind) {
        case 'help':
          await this.#reply(message.thread, `${HELP_TEXT}\n${OPERATIONS_HELP}\n${PLAYBOOK_HELP}`);
          break;
        case 'status':
          await this.#deps.chat.post(message.thread, await this.status(identity.operatorId));
          break;
        case 'log':
          await this.#reply(message.thread, await this.log(identity.operatorId, command.limit));
          break;
        case 'usage':
          await this.#reply(
            message.thread,
            this.#deps.usageReport
              ? await this.#deps.usageReport(identity.operatorId)
              : 'No language model is configured, so there is no usage to report.',
          );
          break;
        case 'decide':
          await this.decide({
            approvalId: command.approvalId,
            decision: command.decision,
            channel: message.channel,
            userId: message.userId,
            thread: message.thread,
          });
          break;
        case 'undo':
        case 'trust':
        case 'untrust':
        case 'cancel':
        case 'connectors':
        case 'remedy':
        case 'always_allow':
          if (!this.#deps.connectorCommands) {
            await this.#reply(message.thread, 'Connectors are not set up in this process.');
            break;
          }
          await this.#deps.connectorCommands.handle(command, {
            operatorId: identity.operatorId,
            channel: message.channel,
            userId: message.userId,
            thread: message.thread,
          });
          break;
        case 'forget':
        case 'forget_decide':
        case 'ingest':
          await this.#memoryCommand(command, identity.operatorId, message);
          break;
      }
      return { kind: 'command' };
    }
    return this.#recordGoal(message, identity, text);
  }

  async #memoryCommand(
    command: Extract<ChatCommand, { kind: 'forget' | 'forget_decide' | 'ingest' }>,
    operatorId: number,
    message: InboundMessage,
  ): Promise<void> {
    const memory = this.#memory;
    if (!memory) {
      await this.#reply(message.thread, 'Memory commands are not available here.');
      return;
    }
    if (command.kind === 'forget') await memory.forget(operatorId, command.query, message.thread);
    else if (command.kind === 'forget_decide')
      await memory.decide(operatorId, command.requestId, command.confirm, message.thread);
    else await memory.ingest(operatorId, command.path, message.channel, message.thread);
  }

  /** Record the goal, its inbox row and its event in one statement, then enqueue it. */
  async #recordGoal(message: InboundMessage, identity: Identity, text: string): Promise<IntakeResult> {
    // One statement: inbox row, goal and event (the ingress hot path; see recordGoalOnce).
    const recorded = await recordGoalOnce(this.#deps.pool, {
      channel: message.channel,
      deliveryId: message.deliveryId,
      operatorId: identity.operatorId,
      thread: message.thread,
      text,
      requestedBy: `${message.channel}:${message.userId}`,
      eventObject: `“${truncate(text, 120)}”`,
    });
    if (!recorded) {
      const goalId = await this.#repos.inbox.goalFor(message.channel, message.deliveryId);
      this.#deps.logger.info(
        { channel: message.channel, deliveryId: message.deliveryId, goalId },
        'duplicate delivery ignored',
      );
      return { kind: 'goal', goalId: goalId ?? 0, duplicate: true };
    }
    await this.#deps.queue.enqueue({ name: 'run-goal', data: { goalId: recorded.id } });
    return { kind: 'goal', goalId: recorded.id, duplicate: false };
  }

  /**
   * Decide an approval (a button click or `approve`/`reject`). Only the operator's identities may
   * decide, and a compare-and-set makes exactly one of any number of clicks win.
   */
  async decide(input: {
    approvalId: number | null;
    decision: ApprovalDecision;
    channel: Channel;
    userId: string;
    thread?: ThreadRef;
  }): Promise<DecisionOutcome> {
    const identity = await this.#repos.operators.findIdentity(input.channel, input.userId);
    if (!identity) {
      await this.#refuseStranger(
        input.channel,
        input.userId,
        `decide approval #${input.approvalId ?? '?'}`,
        input.thread,
      );
      return { kind: 'forbidden' };
    }
    let approvalId = input.approvalId;
    if (approvalId === null) {
      const pending = await this.#repos.approvals.listPending(identity.operatorId);
      const latest = pending.at(-1);
      if (!latest) {
        if (input.thread) await this.#reply(input.thread, 'Nothing is waiting for your approval.');
        return { kind: 'not_found' };
      }
      approvalId = latest.id;
    }
    const existing = await this.#repos.approvals.get(approvalId);
    if (!existing || existing.operatorId !== identity.operatorId) {
      // Someone else's approval is reported exactly like a missing one: no information leaks.
      if (existing)
        await this.#logRefusal(
          input.channel,
          input.userId,
          `decide approval #${approvalId}`,
          existing.operatorId,
        );
      if (input.thread)
        await this.#reply(input.thread, `There is no approval #${approvalId} waiting for you.`);
      return existing ? { kind: 'forbidden' } : { kind: 'not_found' };
    }
    const decidedBy = `${input.channel}:${input.userId}`;
    const result = await this.#repos.approvals.decide(
      approvalId,
      input.decision,
      decidedBy,
      input.channel,
      this.#deps.clock.now(),
    );
    if (result.kind === 'not_found') return { kind: 'not_found' };
    const action = await this.#repos.actions.get(result.approval.actionId);
    if (result.kind === 'already_decided') {
      if (input.thread) {
        const who = result.approval.decidedVia ? ` via ${channelLabel(result.approval.decidedVia)}` : '';
        await this.#reply(
          input.thread,
          `Approval #${approvalId} was already ${result.approval.status}${who}.`,
        );
      }
      return { kind: 'already_decided', approvalId };
    }
    const approval = result.approval;
    await this.#repos.events.append({
      operatorId: identity.operatorId,
      actor: 'operator',
      verb: input.decision === 'approved' ? 'approved' : 'rejected',
      object: action?.preview.doing ?? `action #${approval.actionId}`,
      ref: `approval #${approval.id}`,
      goalId: approval.goalId,
      actionId: approval.actionId,
      channel: input.channel,
    });
    if (action) {
      const operator = await this.#repos.operators.get(identity.operatorId);
      const card = decidedCard(
        action,
        approval,
        identity.displayName ?? operator?.name ?? 'you',
        operator?.timezone ?? 'UTC',
      );
      for (const ref of approval.cards) {
        await this.#deps.chat.update(ref, card).catch((error: unknown) => {
          this.#deps.logger.warn({ err: String(error), approvalId }, 'could not update an approval card');
        });
      }
    }
    // After the compare-and-set: a crash before this line is recovered on start (decided, not resumed).
    await this.#deps.queue.enqueue({
      name: 'resume-goal',
      data: { goalId: approval.goalId, approvalId: approval.id },
    });
    return { kind: 'decided', approvalId, decision: input.decision };
  }

  /** Open goals and pending approvals. */
  async status(operatorId: number): Promise<OutboundMessage> {
    const goals = await this.#repos.goals.listOpen(operatorId);
    const pending = await this.#repos.approvals.listPending(operatorId);
    const failures = await this.#repos.failures.listOpen(operatorId);
    const lines: string[] = [];
    lines.push(goals.length === 0 ? 'No open goals.' : `Open goals (${goals.length}):`);
    for (const goal of goals)
      lines.push(`• #${goal.id} ${goal.status.replace('_', ' ')}: “${truncate(goal.text, 80)}”`);
    lines.push(
      pending.length === 0
        ? 'Nothing is waiting for your approval.'
        : `Waiting for your approval (${pending.length}):`,
    );
    for (const approval of pending) {
      const action = await this.#repos.actions.get(approval.actionId);
      lines.push(
        `• approval #${approval.id} (goal #${approval.goalId}): ${action?.preview.title ?? 'an action'}`,
      );
    }
    if (failures.length > 0) {
      lines.push(`Open failures (${failures.length}):`);
      for (const failure of failures) lines.push(`• failure #${failure.id}: ${failure.message}`);
    }
    if (this.#deps.connectorCommands)
      lines.push(...(await this.#deps.connectorCommands.statusLines(operatorId)));
    const reembedding = await this.#memory?.progressLine();
    if (reembedding) lines.push(reembedding);
    return { text: lines.join('\n') };
  }

  /**
   * A button press from any adapter: approval buttons decide (with the compare-and-set), the
   * connector buttons (Always allow, Undo, Cancel, Retry, Dismiss) go to the connector commands.
   * Only the operator's identities may press; anything unparseable is refused.
   */
  async press(input: {
    action: string;
    channel: Channel;
    userId: string;
    thread?: ThreadRef;
  }): Promise<boolean> {
    const approval = parseApprovalButton(input.action);
    if (approval) {
      await this.decide({ ...input, approvalId: approval.approvalId, decision: approval.decision });
      return true;
    }
    const button = parseConnectorButton(input.action);
    const identity = await this.#repos.operators.findIdentity(input.channel, input.userId);
    if (!identity) {
      await this.#refuseStranger(input.channel, input.userId, `press ${input.action}`, input.thread);
      return false;
    }
    if (
      identity.operatorId &&
      (await this.#deps.playbooks?.press(input.action, {
        operatorId: identity.operatorId,
        channel: input.channel,
        thread: input.thread ?? { channel: input.channel, conversation: input.userId },
      }))
    )
      return true;
    if (button?.kind === 'failure') {
      await this.#remedyFailure(button.failureId, button.remedy, identity, input.userId, input.thread);
      return true;
    }
    if (!button || !this.#deps.connectorCommands) {
      if (input.thread) await this.#reply(input.thread, 'I do not know that button any more.');
      return false;
    }
    await this.#deps.connectorCommands.press(button, {
      operatorId: identity.operatorId,
      channel: input.channel,
      userId: input.userId,
      thread: input.thread,
    });
    return true;
  }

  /** The narrative event log, newest last. */
  async log(operatorId: number, limit: number): Promise<string> {
    const operator = await this.#repos.operators.get(operatorId);
    const events = await this.#repos.events.list({ operatorId, limit });
    return renderNarrative(events, { timezone: operator?.timezone ?? 'UTC' });
  }

  async #refuseStranger(
    channel: Channel,
    userId: string,
    attempted: string,
    thread?: ThreadRef,
  ): Promise<void> {
    await this.#logRefusal(channel, userId, attempted, null);
    if (thread) {
      await this.#reply(thread, "Sorry, I only work for my operator, so I can't help with that.");
    }
  }

  async #logRefusal(
    channel: Channel,
    userId: string,
    attempted: string,
    operatorId: number | null,
  ): Promise<void> {
    this.#deps.logger.warn(
      { channel, userId, attempted },
      'refused a request from someone who is not the operator',
    );
    await this.#repos.events.append({
      operatorId,
      actor: `${channel}:${userId}`,
      verb: 'was refused when trying to',
      object: attempted,
      why: 'they are not one of the operator’s identities',
      channel,
    });
  }

  async #reply(thread: ThreadRef, text: string): Promise<void> {
    await this.#deps.chat.post(thread, { text });
  }
}

function truncate(text: string, length: number): string {
  const single = text.replace(/\s+/g, ' ');
  return single.length <= length ? single : `${single.slice(0, length - 1)}…`;
}
