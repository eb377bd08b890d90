import { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../core/inbound.ts';
import type { Database } from '../../db/database.ts';
import { DovecotServer } from '../fakes/dovecot-server.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const SIGNING_KEY = 'imap-test-signing-key-0123456789';

function rawMessage(id: string, subject: string, body: string): string {
  return [
    'From: "Dana Scully" <Dana@Example.com>',
    'To: leads@spine.test, "Ops" <ops@spine.test>',
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${id}>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    body,
    '',
    'On Mon, 1 Jan 2026 at 10:00, Ada <ada@spine.test> wrote:',
    '> the earlier message',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>html version</p>',
    '--b1--',
    '',
  ].join('\r\n');
}

/** Wait until `check` holds (the source works in the background); fails the test after a long while. */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(DATABASE_KINDS)('inbound e-mail over IMAP (Dovecot) on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const dovecot = new DovecotServer();
  let db: Database;

  async function startSpine(events: InboundEvent[], logLines: string[] = []): Promise<TestSpine> {
    const test = await createTestSpine(db, {
      env: { IMAP_URL: dovecot.url, SPINE_SIGNING_KEY: SIGNING_KEY },
      logger: pino({ level: 'info' }, { write: (line: string) => logLines.push(line) }),
    });
    test.spine.inbound.setSink(async (event) => {
      events.push(event);
    });
    test.spine.inbound.start();
    return test;
  }

  async function append(id: string, subject: string, body: string): Promise<void> {
    const client = new ImapFlow({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      auth: { user: dovecot.user, pass: dovecot.password },
      logger: false,
    });
    await client.connect();
    await client.append('INBOX', rawMessage(id, subject, body));
    await client.logout();
  }

  const emailMemories = async () =>
    (
      await db.pool.query(
        "SELECT kind, content, source_ref, asserted_by, signature, sensitivity FROM memories WHERE source = 'email' ORDER BY id",
      )
    ).rows;

  beforeAll(async () => {
    await dovecot.start();
    db = await databases.open();
  }, 180_000);
  afterAll(async () => {
    await dovecot.stop();
    await databases.closeAll();
  });

  it('stores each message as a signed memory and emits one event, across a restart and during IDLE', async () => {
    await append('first@example.com', 'Website for a bakery', 'Hi, we need a website. Budget =E2=82=AC5k.');
    const events: InboundEvent[] = [];
    const first = await startSpine(events);
    await until(() => events.length === 1, 'the first message');
    expect(events[0]).toMatchObject({
      source: 'email',
      id: 'first@example.com',
      type: 'message',
      operatorId: first.spine.operator.id,
      payload: {
        messageId: 'first@example.com',
        from: { name: 'Dana Scully', address: 'dana@example.com' },
        to: ['leads@spine.test', 'ops@spine.test'],
        subject: 'Website for a bakery',
        text: 'Hi, we need a website. Budget €5k.',
        mailbox: 'INBOX',
      },
    });
    const memories = await emailMemories();
    expect(memories).toHaveLength(1);
    expect(memories[0]).toMatchObject({
      kind: 'document',
      source_ref: 'first@example.com',
      asserted_by: 'dana@example.com',
      sensitivity: 'normal',
    });
    expect(memories[0]?.content).toContain('Budget €5k');
    expect(memories[0]?.signature).toMatch(/^v1:/);
    expect(events[0]?.payload.memoryId).toBeGreaterThan(0);
    const recalled = await first.spine.memory.recall('bakery website budget', {
      operatorId: first.spine.operator.id,
    });
    expect(recalled.find((pointer) => pointer.source === 'email')?.verified).toBe(true);

    // While the source idles, a new message arrives without a restart.
    await append('second@example.com', 'Logo redesign', 'Could you redo our logo?');
    await until(() => events.length === 2, 'the message appended during IDLE');
    expect(events[1]?.id).toBe('second@example.com');
    await first.spine.close();

    // A restart resumes after the last UID: nothing is handed on twice; mail that came meanwhile arrives.
    await append('third@example.com', 'Newsletter', 'Please add me to the newsletter.');
    const again: InboundEvent[] = [];
    const second = await startSpine(again);
    await until(() => again.length === 1, 'the message sent while Spine was down');
    expect(again[0]?.id).toBe('third@example.com');
    // The same Message-ID delivered again (a copy in the mailbox) creates no second memory or event.
    await append('first@example.com', 'Website for a bakery', 'Hi, we need a website. Budget =E2=82=AC5k.');
    await append('fourth@example.com', 'Quote', 'How much for a shop?');
    await until(() => again.length === 2, 'the message after the duplicate');
    expect(again.map((event) => event.id)).toEqual(['third@example.com', 'fourth@example.com']);
    expect((await emailMemories()).map((row) => row.source_ref)).toEqual([
      'first@example.com',
      'second@example.com',
      'third@example.com',
      'fourth@example.com',
    ]);
    await second.spine.close();
  }, 180_000);

  it('reconnects after the server dropped the connection, and rescans without duplicates after a UIDVALIDITY change', async () => {
    const events: InboundEvent[] = [];
    const logLines: string[] = [];
    const test = await startSpine(events, logLines);
    await append('before-drop@example.com', 'Before', 'Sent before the server restarted.');
    await until(() => events.length === 1, 'the message before the drop');
    await dovecot.restart();
    await append('after-drop@example.com', 'After', 'Sent after the server came back.');
    await until(() => events.length === 2, 'the message after the reconnect');
    const stored = (await emailMemories()).length;
    await dovecot.restart({ renumber: true });
    await append('after-renumber@example.com', 'Renumbered', 'Sent after the UIDs changed.');
    await until(() => events.length === 3, 'the message after the UIDVALIDITY change');
    expect(events.map((event) => event.id)).toEqual([
      'before-drop@example.com',
      'after-drop@example.com',
      'after-renumber@example.com',
    ]);
    expect(await emailMemories()).toHaveLength(stored + 1);
    expect(logLines.some((line) => line.includes('UIDVALIDITY changed; rescanning the mailbox'))).toBe(true);
    expect(logLines.some((line) => line.includes('IMAP connection closed; reconnecting'))).toBe(true);
    await test.spine.close();
  }, 180_000);

  it('keeps a message whose hand-over failed and delivers it once the sink accepts', async () => {
    const events: InboundEvent[] = [];
    const test = await createTestSpine(db, {
      env: { IMAP_URL: dovecot.url, SPINE_SIGNING_KEY: SIGNING_KEY },
    });
    let refuse = true;
    test.spine.inbound.setSink(async (event) => {
      if (refuse) {
        refuse = false;
        throw new Error('the consumer is down');
      }
      events.push(event);
    });
    test.spine.inbound.start();
    await append('retry@example.com', 'Retry me', 'Delivered at least once.');
    await until(() => events.length === 1, 'the redelivered message');
    expect(events[0]?.id).toBe('retry@example.com');
    expect(refuse).toBe(false);
    await test.spine.close();
  }, 180_000);
});
