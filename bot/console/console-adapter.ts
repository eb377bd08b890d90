import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { MessageRef, ThreadRef } from '../../core/domain.ts';
import type { OutboundMessage } from '../../core/message.ts';
import type { ChatAdapter } from '../chat-adapter.ts';
import type { HttpRoute } from '../http-route.ts';
import type { Intake } from '../intake.ts';
import { renderForConsole } from './render.ts';

/** The console's single identity: whoever sits at this terminal is the operator. */
export const CONSOLE_USER = 'local';
export const CONSOLE_THREAD: ThreadRef = { channel: 'console', conversation: 'local' };

export interface ConsoleAdapterOptions {
  input: Readable;
  output: Writable;
  /** Show a prompt and a greeting (a terminal); off for piped input. */
  interactive: boolean;
  operatorName: string;
}

/**
 * The local shell adapter (`spine chat`). Each line is handled to completion (reply printed, or the
 * approval card shown) before the next is read, so a whole conversation can be piped in.
 */
export class ConsoleAdapter implements ChatAdapter<string> {
  readonly channel = 'console' as const;
  readonly #options: ConsoleAdapterOptions;
  #sequence = 0;

  constructor(options: ConsoleAdapterOptions) {
    this.#options = options;
  }

  /** Plain text with numbered choices. */
  render(message: OutboundMessage): string {
    return renderForConsole(message);
  }

  /** The terminal needs no set-up; input is read by `run`. */
  async init(): Promise<void> {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  routes(): HttpRoute[] {
    return [];
  }

  async post(_thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    this.#print(this.render(message));
    this.#sequence += 1;
    return { channel: 'console', conversation: 'local', messageId: `${process.pid}-${this.#sequence}` };
  }

  async update(_ref: MessageRef, message: OutboundMessage): Promise<void> {
    this.#print(this.render(message));
  }

  #print(text: string): void {
    this.#options.output.write(`${text}\n\n`);
  }

  /**
   * Read lines until the input ends. `settle` waits until the work a line started is done (or
   * waiting for approval). Resolves at the end of input once nothing is running.
   */
  async run(intake: Intake, settle: () => Promise<void>): Promise<void> {
    const { input, output, interactive } = this.#options;
    const lines = createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
    const prompt = () => {
      if (interactive) output.write('you> ');
    };
    if (interactive) {
      output.write(
        `Spine is ready, ${this.#options.operatorName}. Type \`help\` for what I can do, Ctrl-D to leave.\n\n`,
      );
    }
    prompt();
    for await (const line of lines) {
      if (line.trim() === '') {
        prompt();
        continue;
      }
      if (interactive && /^(exit|quit)$/i.test(line.trim())) break;
      await intake.handleMessage({
        channel: 'console',
        deliveryId: randomUUID(),
        userId: CONSOLE_USER,
        text: line,
        thread: CONSOLE_THREAD,
      });
      await settle();
      prompt();
    }
    // After `exit` the terminal is still open: leaving the loop does not stop reading it, and a
    // flowing stdin keeps the process alive. Stop reading so Spine can shut down.
    lines.close();
    input.pause();
    await settle();
  }
}
