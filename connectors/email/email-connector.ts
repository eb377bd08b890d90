import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../core/clock.ts';
import { type Connector, defineOperation } from '../connector.ts';
import { buildRfc5322 } from './email-message.ts';
import type { EmailTransport } from './file-transport.ts';

export const sendEmailParams = z.object({
  to: z.email({ message: 'must be an e-mail address' }),
  subject: z.string().trim().min(1, 'must not be empty').max(250, 'must be at most 250 characters'),
  body: z.string().min(1, 'must not be empty').max(100_000, 'must be at most 100,000 characters'),
});
export type SendEmailParams = z.infer<typeof sendEmailParams>;

export interface EmailConnectorOptions {
  from: string;
  transport: EmailTransport;
  clock: Clock;
}

function messageIdFor(key: string, from: string): string {
  const domain = from.split('@')[1]?.replace(/[>\s]/g, '') || 'spine.local';
  return `<${createHash('sha256').update(key).digest('hex').slice(0, 24)}@${domain}>`;
}

/** E-mail: sending is irreversible, so it is always previewed with the exact message. */
export function createEmailConnector(options: EmailConnectorOptions): Connector {
  const sendEmail = defineOperation({
    name: 'send_email',
    description: 'Send an e-mail (plain text) to one recipient.',
    risk: 'write',
    reversible: false,
    external: true,
    schema: sendEmailParams,
    simulate: (params) => ({
      title: `Send an e-mail to ${params.to}`,
      doing: `sending an e-mail to ${params.to} about “${params.subject}”`,
      done: `sent an e-mail to ${params.to} about “${params.subject}”`,
      fields: [
        { label: 'From', value: options.from },
        { label: 'To', value: params.to },
        { label: 'Subject', value: params.subject },
        { label: 'Body', value: params.body },
      ],
    }),
    async execute(params, context) {
      context.signal.throwIfAborted();
      const messageId = messageIdFor(context.idempotencyKey, options.from);
      const raw = await buildRfc5322({ ...params, from: options.from, messageId, date: options.clock.now() });
      const delivery = await options.transport.deliver(raw, context.idempotencyKey);
      return { messageId, to: params.to, subject: params.subject, location: delivery.location };
    },
  });
  return {
    name: 'email',
    description: 'E-mail',
    operations: { send_email: sendEmail },
  };
}
