import { describe, expect, it } from 'vitest';
import { ingestEmail } from '../../memory/email-ingest.ts';
import { recordingMemory } from '../support/recording-memory.ts';

const email = (text: string) => ({
  messageId: 'm1@example.com',
  from: { name: 'Dana', address: 'dana@example.com' },
  to: ['leads@spine.test'],
  subject: 'A website',
  date: new Date('2026-11-24T10:00:00Z'),
  text,
  mailbox: 'INBOX',
});

describe('storing an inbound e-mail in memory', () => {
  it('writes one document with provenance email, deduped on the Message-ID', async () => {
    const { memory: store, written } = recordingMemory();
    const { memoryId } = await ingestEmail(store, { operatorId: 1, email: email('We need a website.') });
    expect(memoryId).toBe(1);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      kind: 'document',
      content: 'E-mail from Dana <dana@example.com> to leads@spine.test: “A website”\n\nWe need a website.',
      provenance: { source: 'email', sourceRef: 'm1@example.com', assertedBy: 'dana@example.com' },
      sensitivity: 'normal',
      dedupeKey: 'email:m1@example.com',
      occurredAt: new Date('2026-11-24T10:00:00Z'),
    });
  });

  it('stores a long body as chunks pointing back to the e-mail', async () => {
    const { memory: store, written } = recordingMemory();
    const long = Array.from({ length: 60 }, (_, index) => `Sentence number ${index} about the project.`).join(
      ' ',
    );
    await ingestEmail(store, { operatorId: 1, email: email(long) });
    expect(written.length).toBeGreaterThan(2);
    expect(written[0]?.content.endsWith('…')).toBe(true);
    for (const [index, chunk] of written.slice(1).entries()) {
      expect(chunk.metadata).toMatchObject({ documentId: 1, chunkIndex: index });
      expect(chunk.dedupeKey).toBe(`email:m1@example.com:chunk:${index}`);
    }
  });
});
