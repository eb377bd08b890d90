import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../core/clock.ts';
import { type Connector, defineOperation, type ExecutionContext } from '../connector.ts';
import { buildRfc5322 } from './email-message.ts';
import type { EmailTransport } from './file-transport.ts';

export const sendEmailParams = z.object({
  to: z.email({ message: 'must be an e-mail address' }),
  subject: z.string().trim().min(1, 'must not be empty').max(250, 'must be at most 250 characters'),
  body: z.string().min(1, 'must not be empty').max(100_000, 'must be at most 100,000 characters'),
});
export type SendEmailParams = z.infer<typeof sendEmailParams>;

const PREVIEW_KEY = 'preview';
const MESSAGE_ID = /^<[^<>\s]+@[^<>\s]+>$/;

export const replyEmailParams = sendEmailParams.extend({
  /** The Message-ID of the message answered (`<id@host>`). */
  inReplyTo: z.string().regex(MESSAGE_ID, 'must be a Message-ID like <id@host>'),
  /** Earlier Message-IDs of the thread, oldest first. */
  references: z
    .array(z.string().regex(MESSAGE_ID, 'must be a Message-ID like <id@host>'))
    .max(50)
    .default([]),
});
export type ReplyEmailParams = z.infer<typeof replyEmailParams>;

/** "Re: " once, as mail clients expect. */
export function replySubject(subject: string): string {
  return /^re:/i.test(subject.trim()) ? subject.trim() : `Re: ${subject.trim()}`;
}

export interface EmailConnectorOptions {
  from: string;
  transport: EmailTransport;
  clock: Clock;
  /** Release the transport's connections on shutdown. */
  close?: () => void;
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
    // SMTP has no idempotency key: once DATA started, a repeat could deliver the message twice.
    retry: options.transport.retry,
    schema: sendEmailParams,
    target: (params) => params.to.toLowerCase(),
    async simulate(params) {
      return { ...preview(params), body: await exactMessage(params, PREVIEW_KEY, null) };
    },
    execute: (params, context) => deliver(params, context, null),
  });

  /** The exact message: the same builder as the send, so the card shows what leaves. */
  async function exactMessage(
    params: SendEmailParams,
    key: string,
    thread: { inReplyTo: string; references: string[] } | null,
  ): Promise<string> {
    const raw = await buildRfc5322({
      ...params,
      from: options.from,
      messageId: messageIdFor(key, options.from),
      date: options.clock.now(),
      inReplyTo: thread?.inReplyTo,
      references: thread ? [...thread.references, thread.inReplyTo] : undefined,
    });
    // A preview has no key yet: say so rather than show a Message-ID that will not be the real one.
    return key === PREVIEW_KEY
      ? raw.replace(messageIdFor(PREVIEW_KEY, options.from), '<assigned when sent>')
      : raw;
  }

  async function deliver(
    params: SendEmailParams,
    context: ExecutionContext,
    thread: { inReplyTo: string; references: string[] } | null,
  ) {
    context.signal.throwIfAborted();
    const messageId = messageIdFor(context.idempotencyKey, options.from);
    const raw = await exactMessage(params, context.idempotencyKey, thread);
    const delivery = await options.transport.deliver(
      raw,
      context.idempotencyKey,
      { from: options.from, to: [params.to] },
      context.signal,
    );
    return {
      messageId,
      to: params.to,
      subject: params.subject,
      location: delivery.location,
      ...(thread ? { inReplyTo: thread.inReplyTo } : {}),
    };
  }

  const preview = (params: SendEmailParams) => ({
    title: `Send an e-mail to ${params.to}`,
    doing: `sending an e-mail to ${params.to} about “${params.subject}”`,
    done: `sent an e-mail to ${params.to} about “${params.subject}”`,
    fields: [
      { label: 'From', value: options.from },
      { label: 'To', value: params.to },
      { label: 'Subject', value: params.subject },
      { label: 'Body', value: params.body },
    ],
  });

  const replyEmail = defineOperation({
    name: 'reply_email',
    description: 'Reply to an e-mail in its thread (In-Reply-To and References set).',
    risk: 'write',
    reversible: false,
    external: true,
    retry: options.transport.retry,
    schema: replyEmailParams,
    target: (params) => params.to.toLowerCase(),
    async simulate(params) {
      const subject = replySubject(params.subject);
      const base = preview({ ...params, subject });
      return {
        ...base,
        title: `Reply to ${params.to}`,
        fields: [...base.fields, { label: 'In reply to', value: params.inReplyTo }],
        body: await exactMessage({ ...params, subject }, PREVIEW_KEY, params),
      };
    },
    execute: (params, context) =>
      deliver({ ...params, subject: replySubject(params.subject) }, context, {
        inReplyTo: params.inReplyTo,
        references: params.references,
      }),
  });
  return {
    name: 'email',
    description: 'E-mail',
    operations: { send_email: sendEmail, reply_email: replyEmail },
    ...(options.close ? { close: async () => options.close?.() } : {}),
  };
}
