import nodemailer from 'nodemailer';

export interface EmailContent {
  from: string;
  to: string;
  subject: string;
  body: string;
  /** Stable Message-ID derived from the action's idempotency key, so a retry is the same message. */
  messageId: string;
  date: Date;
  /** The Message-ID this replies to, so mail clients thread it. */
  inReplyTo?: string | undefined;
  /** The thread's Message-IDs, oldest first (the References header). */
  references?: string[] | undefined;
}

const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });

/** The exact RFC 5322 message that will be sent. */
export async function buildRfc5322(content: EmailContent): Promise<string> {
  const info = await builder.sendMail({
    from: content.from,
    to: content.to,
    subject: content.subject,
    text: content.body,
    messageId: content.messageId,
    date: content.date,
    headers: { 'X-Mailer': 'Spine' },
    ...(content.inReplyTo ? { inReplyTo: content.inReplyTo } : {}),
    ...(content.references?.length ? { references: content.references } : {}),
  });
  return (info.message as Buffer).toString('utf8');
}
