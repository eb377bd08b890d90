import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { messageIdOf, SmtpSink, type SmtpSinkOptions } from '../fakes/smtp-sink.ts';

interface SendFailure {
  code?: string;
  command?: string;
  responseCode?: number;
}

const envelope = { from: 'ada@example.com', to: ['dana@example.com'] };

function rawMessage(messageId: string, body = 'Tuesday works for me.'): string {
  return [
    'From: Ada <ada@example.com>',
    'To: dana@example.com',
    'Subject: Tuesday',
    `Message-ID: <${messageId}>`,
    '',
    body,
    '',
  ].join('\r\n');
}

/**
 * The sink is where once-ness is counted, so each fault is checked from the client's side (what
 * nodemailer reports) and from the sink's side (whether the message counts as accepted).
 */
describe('the SMTP sink', () => {
  const sinks: SmtpSink[] = [];

  afterEach(async () => {
    for (const sink of sinks.splice(0)) await sink.close();
  });

  async function startSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(options);
    sinks.push(sink);
    await sink.start();
    return sink;
  }

  /** One message over one fresh connection, as Spine's transport sends it (no pooling). */
  function send(
    sink: SmtpSink,
    raw: string,
    options: { socketTimeoutMs?: number; auth?: { user: string; pass: string } } = {},
  ) {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: sink.port,
      secure: false,
      ignoreTLS: true,
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.socketTimeoutMs ? { socketTimeout: options.socketTimeoutMs } : {}),
    });
    return transport.sendMail({ envelope, raw }).finally(() => transport.close());
  }

  async function failureOf(promise: Promise<unknown>): Promise<SendFailure> {
    try {
      await promise;
    } catch (error) {
      return error as SendFailure;
    }
    throw new Error('expected the send to fail');
  }

  it('counts every accepted message, the same Message-ID twice included', async () => {
    const sink = await startSink();
    await send(sink, rawMessage('goal-1-action-1@spine'));
    await send(sink, rawMessage('goal-1-action-1@spine'));
    await send(sink, rawMessage('goal-2-action-1@spine'));
    expect(sink.accepted).toHaveLength(3);
    expect(sink.countFor('<goal-1-action-1@spine>')).toBe(2);
    expect(sink.countFor('goal-2-action-1@spine')).toBe(1);
    expect(sink.duplicates()).toEqual([{ messageId: 'goal-1-action-1@spine', count: 2 }]);
    expect(sink.accepted[0]).toMatchObject({
      from: 'ada@example.com',
      to: ['dana@example.com'],
      fault: 'none',
    });
    expect(sink.accepted[0]?.raw).toContain('Tuesday works for me.');
    expect(sink.acceptedFor('Dana@Example.com')).toHaveLength(3);
  });

  it('refuse_connection: the connection is reset before the greeting, nothing is accepted', async () => {
    const sink = await startSink();
    sink.script.push({ kind: 'refuse_connection' });
    const failure = await failureOf(send(sink, rawMessage('refused@spine')));
    // What nodemailer reports for a port nobody listens on, too: a socket error while connecting.
    expect(failure).toMatchObject({ code: 'ESOCKET', command: 'CONN' });
    expect(failure.responseCode).toBeUndefined();
    expect(sink.connections).toBe(1);
    expect(sink.accepted).toHaveLength(0);
  });

  it('reject_rcpt_4xx: a temporary failure at RCPT TO, nothing is accepted', async () => {
    const sink = await startSink();
    sink.script.push({ kind: 'reject_rcpt_4xx' });
    const failure = await failureOf(send(sink, rawMessage('rcpt@spine')));
    expect(failure.code).toBe('EENVELOPE');
    expect(failure.responseCode).toBe(451);
    expect(sink.accepted).toHaveLength(0);
  });

  it('drop_after_data: the client sees a lost connection, but the message was accepted', async () => {
    const sink = await startSink();
    sink.script.push({ kind: 'drop_after_data' });
    const failure = await failureOf(send(sink, rawMessage('dropped@spine')));
    // The case that must never be retried blindly: the error says "connection", the mail went out.
    expect(failure.code).toBe('ECONNECTION');
    expect(sink.countFor('dropped@spine')).toBe(1);
    expect(sink.accepted[0]?.fault).toBe('drop_after_data');
  });

  it('ack_after_ms: a client that stops waiting has still had its message accepted', async () => {
    const sink = await startSink();
    // The acknowledgement is held far longer than the client waits, so the client always gives up first.
    sink.script.push({ kind: 'ack_after_ms', ms: 600_000 });
    const failure = await failureOf(send(sink, rawMessage('slow@spine'), { socketTimeoutMs: 300 }));
    expect(failure.code).toBe('ETIMEDOUT');
    expect(sink.countFor('slow@spine')).toBe(1);
  });

  it('ack_after_ms: a client that waits long enough gets its 250', async () => {
    const sink = await startSink();
    sink.script.push({ kind: 'ack_after_ms', ms: 50 });
    const info = await send(sink, rawMessage('patient@spine'));
    expect(info.response).toMatch(/^250 /);
    expect(sink.countFor('patient@spine')).toBe(1);
  });

  it('reject_data_5xx: a permanent refusal after DATA, nothing is accepted', async () => {
    const sink = await startSink();
    sink.script.push({ kind: 'reject_data_5xx' });
    const failure = await failureOf(send(sink, rawMessage('refused-data@spine')));
    expect(failure.code).toBe('EMESSAGE');
    expect(failure.responseCode).toBe(550);
    expect(sink.accepted).toHaveLength(0);
  });

  it('plays the script first in first out, one fault per session, then behaves normally', async () => {
    const sink = await startSink();
    sink.script.push({ kind: 'refuse_connection' }, { kind: 'drop_after_data' });
    await failureOf(send(sink, rawMessage('one@spine')));
    await failureOf(send(sink, rawMessage('two@spine')));
    await send(sink, rawMessage('three@spine'));
    expect(sink.script).toHaveLength(0);
    expect(sink.connections).toBe(3);
    expect(sink.accepted.map((message) => [message.messageId, message.fault])).toEqual([
      ['two@spine', 'drop_after_data'],
      ['three@spine', 'none'],
    ]);
  });

  it('checks credentials when it is given some', async () => {
    const sink = await startSink({ credentials: { user: 'spine', password: 'hunter2' } });
    const failure = await failureOf(
      send(sink, rawMessage('bad-auth@spine'), { auth: { user: 'spine', pass: 'wrong' } }),
    );
    expect(failure.code).toBe('EAUTH');
    expect(failure.responseCode).toBe(535);
    await send(sink, rawMessage('good-auth@spine'), { auth: { user: 'spine', pass: 'hunter2' } });
    expect(sink.accepted.map((message) => message.messageId)).toEqual(['good-auth@spine']);
  });

  it('reads the Message-ID from the header block only, folded or not', () => {
    expect(messageIdOf('Subject: x\r\nMessage-ID:\r\n <folded@spine>\r\n\r\nbody')).toBe('folded@spine');
    expect(messageIdOf('Subject: x\r\n\r\nMessage-ID: <in-body@spine>')).toBeNull();
  });
});
