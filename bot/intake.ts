import type pg from 'pg';
import type { Logger } from 'pino';
import { parseApprovalButton, parseConnectorButton } from '../core/cards.ts';
import type { Clock } from '../core/clock.ts';
import { type ChatCommand, HELP_TEXT, parseChatCommand } from '../core/commands.ts';
import type { Channel, Identity, ThreadRef } from '../core/domain.ts';
import { type FailureRemedy, parseFailureButton } from '../core/failure-card.ts';
import type { JobQueue } from '../core/jobs.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import { OPERATIONS_HELP, parseOperationsCommand } from '../core/operations-commands.ts';
import { type ApprovalExpiry, DEFAULT_APPROVAL_EXPIRY } from '../core/policy.ts';
import { recordGoalOnce, recordRequestOnce } from '../db/repositories/goal-intake.ts';
import { StrangerRefusalRepository } from '../db/repositories/inbound-deliveries.ts';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import { FAILURES_HELP, parseFailureCommand } from '../ledger/failure-commands.ts';
import type { FailureDesk, RemedyOutcome } from '../ledger/failures.ts';
import { answerLogCommand } from '../ledger/log-command.ts';
import {
  parseRenormalizeButton,
  parseRenormalizeCommand,
  RENORMALIZE_HELP,
  type RenormalizeCommands,
} from '../ledger/renormalize-commands.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';
import { PLAYBOOK_HELP } from '../playbooks/playbook-command.ts';
import {
  ApprovalDecisions,
  type ApprovalDecisionsDeps,
  type DecisionInput,
  type DecisionOutcome,
} from './approval-decisions.ts';
import type { ConnectorCommands } from './connector-commands.ts';
import { MemoryCommands, type SharedFile } from './memory-commands.ts';
import { Operations } from './operations.ts';
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
  /** A document shared with the message (Slack file, Telegram document): it is read into memory. */
  file?: SharedFile;
}

export type IntakeResult =
  | { kind: 'goal'; goalId: number; duplicate: boolean }
  | { kind: 'command'; duplicate?: boolean }
  | { kind: 'refused'; reason: 'stranger' | 'invalid' };

export type { DecisionOutcome } from './approval-decisions.ts';

export interface IntakeDeps {
  pool: pg.Pool;
  queue: JobQueue;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  /** The `usage` command's text (model calls, tokens, cost, budget); injected by the app. */
  usageReport?: (operatorId: number) => Promise<string>;
  /** The `goal <id>` command's text (ledger forensics from the goal's checkpoints); injected by the app. */
  goalForensics?: (operatorId: number, goalId: number) => Promise<string>;
  /** Longest message accepted as a goal. */
  maxMessageLength?: number;
  /** Told when an operator changes their digest time (queue mode moves the job scheduler). */
  onDigestTimeChanged?: (operatorId: number) => Promise<void>;
  /** Undo, trust, cancel and failure remediation (connectors and guardrails). */
  connectorCommands?: ConnectorCommands;
  /** Memory, for `forget`, `ingest` and re-embedding progress in `status`. */
  memory?: PgvectorMemoryStore;
  /** The `console` command's reply: a one-time web console login link for this identity. */
  consoleLogin?: (channel: Channel, userId: string) => Promise<string>;
  /** Failures with their remedies (retry, undo, edit and retry, dismiss with a reason): ledger/failures.ts. */
  failures?: FailureDesk;
  /** `renormalize <normalizer>`: the diff of past facts, applied after Confirm (ledger/renormalize-commands.ts). */
  renormalize?: RenormalizeCommands;
  /** The `playbook …` commands and proposal buttons. */
  playbooks?: PlaybookCommands;
  /** How long a pending approval lasts per risk class (`guardrails.approvalExpiry`); unset: the defaults. */
  approvalExpiry?: ApprovalExpiry;
  /** Expire an approval at once (jobs/approval-expiry.ts), when a decision finds it late or changed. */
  expireApproval?: ApprovalDecisionsDeps['expire'];
}

const DEFAULT_MAX_MESSAGE_LENGTH = 20_000;
/**
 * A command's or shared file's delivery is held this long without a renewal (renewed every third
 * of it while the work runs): shorter than Slack's first retry (1 min), so a crash mid-work is
 * retried, and long enough that a live process never loses it between two renewals.
 */
const DELIVERY_LEASE_MS = 45_000;

type ParsedCommand = {
  failureCommand: ReturnType<typeof parseFailureCommand> | null;
  renormalize: ReturnType<typeof parseRenormalizeCommand> | null;
  operations: ReturnType<typeof parseOperationsCommand>;
  command: ChatCommand | null;
};

/**
 * Where every chat message and button click enters Spine, whatever the platform: authenticate the
 * sender, answer commands, record goals exactly once per delivery, and decide approvals.
 */
export class Intake {
  readonly #deps: IntakeDeps;
  readonly #repos: Repositories;
  readonly #operations: Operations;
  readonly #memory: MemoryCommands | undefined;
  readonly #decisions: ApprovalDecisions;

  constructor(deps: IntakeDeps) {
    this.#deps = deps;
    this.#repos = createRepositories(deps.pool);
    this.#decisions = new ApprovalDecisions({
      ...deps,
      repos: this.#repos,
      expiry: deps.approvalExpiry ?? DEFAULT_APPROVAL_EXPIRY,
      expire: deps.expireApproval,
    });
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
  }): Promise<DecisionOutcome | { kind: 'failure'; outcome: RemedyOutcome } | { kind: 'unknown' }> {
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

  /** A failure remedy (button or typed): the ledger's failure desk applies it (ledger/failures.ts). */
  async #remedyFailure(
    failureId: number,
    choice: FailureRemedy,
    identity: Identity,
    userId: string,
    thread: ThreadRef | undefined,
  ): Promise<RemedyOutcome> {
    if (!this.#deps.failures) {
      if (thread) await this.#reply(thread, 'Failure remedies are not set up in this process.');
      return 'not_offered';
    }
    return this.#deps.failures.remedy(
      { remedy: choice, failureId },
      { operatorId: identity.operatorId, channel: identity.channel, userId, thread },
    );
  }

  async handleMessage(message: InboundMessage): Promise<IntakeResult> {
    if (!message.file) {
      const text = message.text.trim();
      if (this.#isRequest(text)) return this.#request(message, text);
    }
    const identity = await this.#repos.operators.findIdentity(message.channel, message.userId);
    if (!identity) {
      await this.#refuseStranger(message.channel, message.userId, 'send a message', message.thread);
      return { kind: 'refused', reason: 'stranger' };
    }
    if (message.file) {
      const { file, ...rest } = message;
      const ingested = await this.#sharedFile(message, file, identity.operatorId);
      // Words sent with the document ("when is this contract due?") come after it is read.
      if (ingested.kind !== 'command' || ingested.duplicate || message.text.trim() === '') return ingested;
      return this.handleMessage({ ...rest, deliveryId: `${message.deliveryId}:text` });
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
    const parsed: ParsedCommand = {
      failureCommand: this.#deps.failures ? parseFailureCommand(text) : null,
      renormalize: this.#deps.renormalize ? parseRenormalizeCommand(text) : null,
      operations: parseOperationsCommand(text),
      command: parseChatCommand(text),
    };
    if (parsed.failureCommand || parsed.renormalize || parsed.operations || parsed.command) {
      // Goals are deduplicated in the statement that records them; a command is answered once too
      // (a platform's retry of `status` or `approve` must not answer or act twice), but only once
      // it succeeded: a command that failed is released, so the platform's retry runs it again.
      const ran = await this.#oncePerDelivery(message, 'command', () =>
        this.#runCommand(parsed, identity, message),
      );
      if (!ran) {
        this.#deps.logger.info(
          { channel: message.channel, deliveryId: message.deliveryId },
          'duplicate command delivery ignored',
        );
        return { kind: 'command', duplicate: true };
      }
      return { kind: 'command' };
    }
    // Playbook commands and proposals; the built-in commands above come first (an ordinary
    // request, chat triggers included, went through #request).
    const origin = { operatorId: identity.operatorId, channel: message.channel, thread: message.thread };
    if (await this.#deps.playbooks?.handle(text, { ...origin, deliveryId: message.deliveryId }))
      return { kind: 'command' };
    return this.#recordGoal(message, identity, text);
  }

  /** A command of any kind (failures, renormalize, operations, chat), once its delivery is claimed. */
  async #runCommand(parsed: ParsedCommand, identity: Identity, message: InboundMessage): Promise<void> {
    const { failureCommand, renormalize, operations, command } = parsed;
    if (failureCommand && this.#deps.failures) {
      await this.#deps.failures.handle(failureCommand, {
        operatorId: identity.operatorId,
        channel: message.channel,
        userId: message.userId,
        thread: message.thread,
      });
    } else if (renormalize) {
      await this.#deps.renormalize?.handle(renormalize, { ...identity, thread: message.thread });
    } else if (operations) {
      await this.#operations.handle(operations, identity, message.thread);
    } else if (command) {
      await this.#chatCommand(command, identity, message);
    }
  }

  async #chatCommand(command: ChatCommand, identity: Identity, message: InboundMessage): Promise<void> {
    switch (command.kind) {
      case 'help':
        await this.#reply(
          message.thread,
          `${HELP_TEXT}\n${OPERATIONS_HELP}\n${FAILURES_HELP}\n${RENORMALIZE_HELP}\n${PLAYBOOK_HELP}`,
        );
        return;
      case 'status':
        await this.#deps.chat.post(message.thread, await this.status(identity.operatorId));
        return;
      case 'log':
        await this.#reply(message.thread, await this.log(identity.operatorId, command.args));
        return;
      case 'goal':
        await this.#reply(
          message.thread,
          (await this.#deps.goalForensics?.(identity.operatorId, command.goalId)) ??
            'Goal forensics are not available here.',
        );
        return;
      case 'usage':
        await this.#reply(
          message.thread,
          this.#deps.usageReport
            ? await this.#deps.usageReport(identity.operatorId)
            : 'No language model is configured, so there is no usage to report.',
        );
        return;
      case 'console':
        await this.#reply(
          message.thread,
          this.#deps.consoleLogin
            ? await this.#deps.consoleLogin(message.channel, message.userId)
            : 'The web console is not available in this process.',
        );
        return;
      case 'decide':
        await this.decide({
          approvalId: command.approvalId,
          decision: command.decision,
          channel: message.channel,
          userId: message.userId,
          thread: message.thread,
        });
        return;
      case 'undo':
      case 'trust':
      case 'untrust':
      case 'cancel':
      case 'connectors':
      case 'remedy':
      case 'always_allow':
        if (!this.#deps.connectorCommands) {
          await this.#reply(message.thread, 'Connectors are not set up in this process.');
          return;
        }
        await this.#deps.connectorCommands.handle(command, {
          operatorId: identity.operatorId,
          channel: message.channel,
          userId: message.userId,
          thread: message.thread,
        });
        return;
      case 'forget':
      case 'forget_decide':
      case 'ingest':
        await this.#memoryCommand(command, identity.operatorId, message);
        return;
    }
  }

  /**
   * Run a delivery's work at most once to success. The delivery is claimed under a lease this
   * process renews while the work runs: a redelivery meanwhile is a duplicate (never run twice at
   * once); one after success is a duplicate (answered once); one after a failure (released) or a
   * crash (the lease lapsed) runs the work again, so a platform's retry never loses it.
   * False when the delivery was a duplicate and nothing ran.
   */
  async #oncePerDelivery(
    message: InboundMessage,
    what: 'command' | 'shared file',
    work: () => Promise<void>,
  ): Promise<boolean> {
    const { channel, deliveryId } = message;
    const inbox = this.#repos.inbox;
    const claim = await inbox.claim(channel, deliveryId, DELIVERY_LEASE_MS);
    if (!claim) return false;
    const logger = this.#deps.logger;
    if (claim.takenOver)
      logger.info(
        { channel, deliveryId, what },
        'running a delivery again: a crash or failure interrupted it',
      );
    const heartbeat = setInterval(() => {
      inbox.renew(channel, deliveryId, DELIVERY_LEASE_MS).catch((error: unknown) => {
        logger.warn({ err: String(error), channel, deliveryId, what }, 'could not renew a delivery lease');
      });
    }, DELIVERY_LEASE_MS / 3);
    heartbeat.unref();
    try {
      await work();
      await inbox.finish(channel, deliveryId);
      return true;
    } catch (error) {
      // Released, not finished: the platform retries a delivery whose handler failed, and that
      // retry must run the work rather than be dropped as a duplicate.
      await inbox.release(channel, deliveryId).catch((releaseError: unknown) => {
        logger.warn(
          { err: String(releaseError), channel, deliveryId, what },
          'could not release a failed delivery; a retry runs it once its lease lapses',
        );
      });
      logger.warn(
        { err: String(error), channel, deliveryId, what },
        'a delivery failed; released so the platform retry runs it again',
      );
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * A shared document: read into memory once per delivery, with progress in the thread. Reading
   * can take minutes, so the delivery is held under a renewed lease (see #oncePerDelivery).
   */
  async #sharedFile(message: InboundMessage, file: SharedFile, operatorId: number): Promise<IntakeResult> {
    const ran = await this.#oncePerDelivery(message, 'shared file', async () => {
      if (!this.#memory) await this.#reply(message.thread, 'I cannot read documents in this process.');
      else await this.#memory.ingestShared(operatorId, file, message.thread);
    });
    return ran ? { kind: 'command' } : { kind: 'command', duplicate: true };
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

  /**
   * Whether the text is an ordinary request, for the planner: not empty, not too long, and no
   * command of any kind (those need the identity first, and are answered, not recorded as goals).
   */
  #isRequest(text: string): boolean {
    return (
      text.length > 0 &&
      text.length <= (this.#deps.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH) &&
      !(this.#deps.failures && parseFailureCommand(text)) &&
      !(this.#deps.renormalize && parseRenormalizeCommand(text)) &&
      !parseOperationsCommand(text) &&
      !parseChatCommand(text) &&
      !this.#deps.playbooks?.command(text)
    );
  }

  /**
   * An ordinary request, in one round trip when nothing is in doubt (the ingress hot path; see
   * recordRequestOnce): identity, chat-triggered playbooks, inbox row, goal and event. A playbook
   * version this process has not read yet is read first; if its trigger is the text, it runs.
   */
  async #request(message: InboundMessage, text: string): Promise<IntakeResult> {
    const playbooks = this.#deps.playbooks;
    const record = await recordRequestOnce(this.#deps.pool, {
      ...this.#goalDelivery(message, text),
      userId: message.userId,
      chatTriggers: playbooks ? playbooks.chatTriggers(text) : null,
    });
    switch (record.kind) {
      case 'stranger':
        await this.#refuseStranger(message.channel, message.userId, 'send a message', message.thread);
        return { kind: 'refused', reason: 'stranger' };
      case 'unsure': {
        const origin = {
          operatorId: record.identity.operatorId,
          channel: message.channel,
          thread: message.thread,
          deliveryId: message.deliveryId,
        };
        if (await playbooks?.runChatTrigger(text, record.playbooks, origin)) return { kind: 'command' };
        return this.#recordGoal(message, record.identity, text);
      }
      case 'duplicate':
        return this.#duplicateGoal(message);
      case 'recorded':
        return this.#enqueueGoal(record.goal.id);
    }
  }

  #goalDelivery(message: InboundMessage, text: string) {
    return {
      channel: message.channel,
      deliveryId: message.deliveryId,
      thread: message.thread,
      text,
      requestedBy: `${message.channel}:${message.userId}`,
      eventObject: `“${truncate(text, 120)}”`,
    };
  }

  /** Record the goal, its inbox row and its event in one statement, then enqueue it. */
  async #recordGoal(message: InboundMessage, identity: Identity, text: string): Promise<IntakeResult> {
    // One statement: inbox row, goal and event (the ingress hot path; see recordGoalOnce).
    const recorded = await recordGoalOnce(this.#deps.pool, {
      ...this.#goalDelivery(message, text),
      operatorId: identity.operatorId,
    });
    return recorded ? this.#enqueueGoal(recorded.id) : this.#duplicateGoal(message);
  }

  async #enqueueGoal(goalId: number): Promise<IntakeResult> {
    await this.#deps.queue.enqueue({ name: 'run-goal', data: { goalId } });
    return { kind: 'goal', goalId, duplicate: false };
  }

  async #duplicateGoal(message: InboundMessage): Promise<IntakeResult> {
    const goalId = await this.#repos.inbox.goalFor(message.channel, message.deliveryId);
    this.#deps.logger.info(
      { channel: message.channel, deliveryId: message.deliveryId, goalId },
      'duplicate delivery ignored',
    );
    return { kind: 'goal', goalId: goalId ?? 0, duplicate: true };
  }

  /**
   * Decide an approval (a button click, `approve #id`, or a bare `approve`/`yes`/`ok`/`1`/`reject`
   * with `approvalId` null). Only the operator's identities may decide. A bare word decides only the
   * one pending card of the thread it is typed in, and never a money, legal or destructive one
   * (bot/approval-decisions.ts holds the rules, the compare-and-set and the expiry check).
   */
  async decide(input: DecisionInput): Promise<DecisionOutcome> {
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
      const chosen = await this.#decisions.cardForBareWord(identity.operatorId, input.decision, input.thread);
      if (chosen.kind !== 'chosen') return chosen;
      approvalId = chosen.approvalId;
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
    return this.#decisions.decide(existing, input, identity);
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
    const renormalize = this.#deps.renormalize ? parseRenormalizeButton(input.action) : null;
    if (renormalize) {
      await this.#deps.renormalize?.handle(renormalize, { ...identity, thread: input.thread });
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

  /** The narrative event log, newest last: the newest `n` events, or the filters of `log …` (ledger/). */
  async log(operatorId: number, request: number | string): Promise<string> {
    const operator = await this.#repos.operators.get(operatorId);
    const db = { db: this.#deps.pool, clock: this.#deps.clock };
    return answerLogCommand(db, { id: operatorId, timezone: operator?.timezone ?? 'UTC' }, String(request));
  }

  /**
   * Refuse someone who is not the operator without letting them grow the database or stall the
   * channel: the day's first refusal of each stranger appends one event, later ones only bump a
   * counter (stranger_refusals); only the first few of the day are answered, and an answer that
   * fails (they blocked the bot: Telegram 403) is logged, never thrown.
   */
  async #refuseStranger(
    channel: Channel,
    userId: string,
    attempted: string,
    thread?: ThreadRef,
  ): Promise<void> {
    // Enough for a person who tries a few times to be told; a flood is not answered message by message.
    const answeredPerDay = 3;
    const { logger, clock, pool } = this.#deps;
    const day = clock.now().toISOString().slice(0, 10);
    const { refusals } = await new StrangerRefusalRepository(pool).record({
      channel,
      userId,
      day,
      attempted,
      event: {
        operatorId: null,
        actor: `${channel}:${userId}`,
        verb: 'was refused when trying to',
        object: attempted,
        why: 'they are not one of the operator’s identities',
        channel,
        payload: { day, aggregated: 'later refusals today are counted in stranger_refusals' },
      },
    });
    if (refusals === 1) {
      logger.warn({ channel, userId, attempted }, 'refused a request from someone who is not the operator');
    } else {
      logger.debug({ channel, userId, attempted, refusals }, 'refused the same stranger again today');
    }
    if (!thread || refusals > answeredPerDay) return;
    try {
      await this.#reply(thread, "Sorry, I only work for my operator, so I can't help with that.");
    } catch (error) {
      logger.warn(
        { channel, userId, err: error instanceof Error ? error.message : String(error) },
        'could not answer a stranger (they may have blocked the bot); moving on',
      );
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
