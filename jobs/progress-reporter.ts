import type { Clock } from '../core/clock.ts';
import type { MessageRef, ThreadRef } from '../core/domain.ts';
import type { ChatSender } from '../core/message.ts';

/** What each goal-graph step means to the operator. */
const STEP_LABELS: Record<string, string> = {
  retrieve: 'looking through what I know',
  plan: 'working out what to do',
  guard: 'checking the rules',
  requestApproval: 'asking for your approval',
  awaitApproval: 'waiting for your decision',
  execute: 'carrying it out',
  report: 'writing the answer',
  remember: 'noting it down',
};

/**
 * Progress of a long job in its chat thread: after `afterMs`, one "working on it" message that is
 * then updated in place at each step (never a stream of new messages). Quick jobs show nothing.
 */
export class ProgressReporter {
  readonly #chat: ChatSender;
  readonly #clock: Clock;
  readonly #afterMs: number;
  readonly #startedAt: number;
  #ref: MessageRef | null = null;
  #steps: string[] = [];

  constructor(options: { chat: ChatSender; clock: Clock; afterMs: number }) {
    this.#chat = options.chat;
    this.#clock = options.clock;
    this.#afterMs = options.afterMs;
    this.#startedAt = options.clock.now().getTime();
  }

  /** The message posted so far, if any. */
  get ref(): MessageRef | null {
    return this.#ref;
  }

  /** A step of the goal's graph finished. */
  async step(thread: ThreadRef, goalId: number, step: string): Promise<void> {
    const label = STEP_LABELS[step];
    if (!label) return;
    this.#steps.push(label);
    if (this.#clock.now().getTime() - this.#startedAt < this.#afterMs) return;
    const message = { text: `Working on goal #${goalId}: ${this.#steps.join(' → ')}…` };
    if (this.#ref) await this.#chat.update(this.#ref, message);
    else this.#ref = await this.#chat.post(thread, message);
  }

  /** The job ended: close the progress message, when one was shown. */
  async finish(goalId: number, outcome: 'done' | 'waiting' | 'failed'): Promise<void> {
    if (!this.#ref) return;
    const words = { done: 'finished', waiting: 'waiting for your approval', failed: 'stopped' }[outcome];
    await this.#chat.update(this.#ref, { text: `Goal #${goalId}: ${this.#steps.join(' → ')} — ${words}.` });
  }
}
