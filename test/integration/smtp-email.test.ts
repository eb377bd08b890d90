import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { volatileCheckpoints } from '../../connectors/connector.ts';
import { createEmailConnector } from '../../connectors/email/email-connector.ts';
import { SmtpEmailTransport } from '../../connectors/email/smtp-transport.ts';
import { ManualClock } from '../../core/clock.ts';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server on loopback that records every message it accepts. */
async function startSmtpServer(options: { rejectFirst?: number } = {}) {
  const received: Received[] = [];
  let rejections = options.rejectFirst ?? 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'spine' && auth.password === 'hunter2') return callback(null, { user: 'spine' });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (rejections > 0) {
          rejections -= 1;
          const error = new Error('Try again later') as Error & { responseCode: number };
          error.responseCode = 451;
          return callback(error);
        }
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { server, port, received };
}

describe('e-mail over SMTP', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  const clock = new ManualClock('2026-11-25T09:00:00Z');

  beforeAll(async () => {
    smtp = await startSmtpServer({ rejectFirst: 0 });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => smtp.server.close(() => resolve()));
  });

  function connector(port: number, user = 'spine', password = 'hunter2') {
    const transport = new SmtpEmailTransport({ host: '127.0.0.1', port, secure: false, user, password });
    return createEmailConnector({
      from: 'Ada <ada@example.com>',
      transport,
      clock,
      close: () => transport.close(),
    });
  }

  const context = (key: string) => ({
    idempotencyKey: key,
    signal: new AbortController().signal,
    checkpoint: volatileCheckpoints(),
  });

  it('sends the exact previewed message through a real SMTP server', async () => {
    const email = connector(smtp.port);
    const params = { to: 'dana@example.com', subject: 'Tuesday', body: 'Tuesday works for me.' };
    const preview = await email.operations.send_email!.simulate(params);
    expect(preview.body).toContain('Subject: Tuesday');
    expect(preview.body).toContain('Tuesday works for me.');
    const result = (await email.operations.send_email!.execute(params, context('goal-1-action-1'))) as {
      messageId: string;
    };
    const message = smtp.received.at(-1);
    expect(message?.from).toBe('ada@example.com');
    expect(message?.to).toEqual(['dana@example.com']);
    expect(message?.raw).toContain(`Message-ID: ${result.messageId}`);
    expect(message?.raw).toContain('Tuesday works for me.');
    await email.close?.();
  });

  it('replies in the thread with In-Reply-To and References', async () => {
    const email = connector(smtp.port);
    await email.operations.reply_email!.execute(
      {
        to: 'dana@example.com',
        subject: 'Tuesday',
        body: 'See you then.',
        inReplyTo: '<abc@mail.example.com>',
        references: ['<root@mail.example.com>'],
      },
      context('goal-2-action-1'),
    );
    const raw = smtp.received.at(-1)?.raw ?? '';
    expect(raw).toContain('Subject: Re: Tuesday');
    expect(raw).toContain('In-Reply-To: <abc@mail.example.com>');
    expect(raw).toMatch(/References: <root@mail\.example\.com>\s+<abc@mail\.example\.com>/);
    await email.close?.();
  });

  it('reports bad credentials as a clear, non-retryable error naming the server', async () => {
    const email = connector(smtp.port, 'spine', 'wrong');
    await expect(
      email.operations.send_email!.execute(
        { to: 'dana@example.com', subject: 'x', body: 'y' },
        context('goal-3-action-1'),
      ),
    ).rejects.toMatchObject({ code: 'email.smtp_rejected', retryable: false });
    await email.close?.();
  });

  it('marks a 4xx reply retryable (the server did not take the message)', async () => {
    const flaky = await startSmtpServer({ rejectFirst: 1 });
    const email = connector(flaky.port);
    const params = { to: 'dana@example.com', subject: 'Again', body: 'Second try.' };
    await expect(
      email.operations.send_email!.execute(params, context('goal-4-action-1')),
    ).rejects.toMatchObject({ code: 'email.smtp_unavailable', retryable: true });
    await email.operations.send_email!.execute(params, context('goal-4-action-1'));
    expect(flaky.received).toHaveLength(1);
    await email.close?.();
    await new Promise<void>((resolve) => flaky.server.close(() => resolve()));
  });
});
