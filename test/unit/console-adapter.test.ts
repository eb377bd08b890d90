import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleAdapter } from '../../bot/console/console-adapter.ts';
import type { InboundMessage, Intake } from '../../bot/intake.ts';

/** An intake that records the messages it gets. */
function recordingIntake() {
  const messages: InboundMessage[] = [];
  const intake = {
    handleMessage: async (message: InboundMessage) => {
      messages.push(message);
      return { kind: 'command' as const };
    },
  } as unknown as Intake;
  return { intake, messages };
}

function consoleOn(interactive: boolean) {
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  const adapter = new ConsoleAdapter({ input, output, interactive, operatorName: 'Ada' });
  return { input, adapter, printed: () => printed };
}

describe('ConsoleAdapter', () => {
  it('in a terminal: greets, prompts, hands each line to intake, and stops reading at `exit`', async () => {
    const { input, adapter, printed } = consoleOn(true);
    const { intake, messages } = recordingIntake();
    let settled = 0;
    const done = adapter.run(intake, async () => {
      settled += 1;
    });
    input.write('remember that the rent is due\n\n');
    input.write('exit\n');
    await done;
    expect(messages.map((message) => message.text)).toEqual(['remember that the rent is due']);
    expect(messages[0]).toMatchObject({
      channel: 'console',
      userId: 'local',
      thread: { channel: 'console' },
    });
    expect(settled).toBeGreaterThanOrEqual(1);
    expect(printed()).toMatch(/^Spine is ready, Ada\. .*\n\nyou> you> you> $/s);
    // A terminal stays open after `exit`: the adapter must stop reading it, or the process never ends.
    expect(input.isPaused()).toBe(true);
  });

  it('piped: no greeting or prompt, and `exit` is just a message', async () => {
    const { input, adapter, printed } = consoleOn(false);
    const { intake, messages } = recordingIntake();
    const done = adapter.run(intake, async () => {});
    input.end('help\nexit\n');
    await done;
    expect(messages.map((message) => message.text)).toEqual(['help', 'exit']);
    expect(new Set(messages.map((message) => message.deliveryId)).size).toBe(2);
    expect(printed()).toBe('');
  });

  it('prints posted messages followed by a blank line, and gives each its own reference', async () => {
    const { adapter, printed } = consoleOn(false);
    const first = await adapter.post({ channel: 'console', conversation: 'local' }, { text: 'one' });
    const second = await adapter.post({ channel: 'console', conversation: 'local' }, { text: 'two' });
    await adapter.update(first, { text: 'one, updated' });
    expect(printed()).toBe('one\n\ntwo\n\none, updated\n\n');
    expect(first.messageId).not.toBe(second.messageId);
  });
});
