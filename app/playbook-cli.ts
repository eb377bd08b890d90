import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { createSpine } from './spine.ts';

/**
 * `spine playbook …`: the chat commands from a terminal, printed instead of posted. `run` starts
 * the run and waits for it to stop (finished, or waiting for an approval in chat).
 */
export async function commandPlaybook(config: Config, args: string[], logger: Logger): Promise<void> {
  const spine = await createSpine(config, { logger });
  try {
    spine.registerAdapter('console', {
      async post(_thread, message) {
        const blocks = (message.blocks ?? []).filter((block) => block.type === 'preformatted');
        process.stdout.write(`${[message.text, ...blocks.map((block) => block.text)].join('\n')}\n`);
        return { channel: 'console', conversation: 'local', messageId: String(Date.now()) };
      },
      async update() {},
    });
    const handled = await spine.playbooks.commands.handle(`playbook ${args.join(' ')}`, {
      operatorId: spine.operator.id,
      channel: 'console',
      deliveryId: `cli-${process.pid}-${Date.now()}`,
      thread: { channel: 'console', conversation: 'local' },
    });
    if (!handled) process.stdout.write('Usage: spine playbook list|show|add|enable|disable|shadow|run …\n');
    await spine.settle();
  } finally {
    await spine.close();
  }
}
