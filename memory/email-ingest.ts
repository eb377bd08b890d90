import { chunkText } from './document-ingest.ts';
import type { MemoryStore } from './memory-store.ts';

/** An inbound e-mail as the IMAP source normalised it. */
export interface InboundEmail {
  messageId: string;
  from: { name: string | null; address: string };
  to: string[];
  subject: string;
  date: Date | null;
  text: string;
  mailbox: string;
}

/** Above this, the body is stored as chunks pointing back to the e-mail (like a document). */
const SINGLE_MEMORY_CHARS = 2_000;

function header(email: InboundEmail): string {
  const from = email.from.name ? `${email.from.name} <${email.from.address}>` : email.from.address;
  return `E-mail from ${from}${email.to.length > 0 ? ` to ${email.to.join(', ')}` : ''}: “${email.subject || '(no subject)'}”`;
}

/**
 * Store an inbound e-mail as a `document` memory with provenance `email` (Message-ID as the
 * reference, the sender as who asserted it; signed, since it comes from outside). Idempotent per
 * Message-ID: a redelivered message returns the memory stored the first time.
 */
export async function ingestEmail(
  store: MemoryStore,
  input: { operatorId: number; email: InboundEmail },
): Promise<{ memoryId: number }> {
  const { email } = input;
  const common = {
    operatorId: input.operatorId,
    kind: 'document' as const,
    provenance: { source: 'email' as const, sourceRef: email.messageId, assertedBy: email.from.address },
    sensitivity: 'normal' as const,
    ...(email.date ? { occurredAt: email.date } : {}),
  };
  const long = email.text.length > SINGLE_MEMORY_CHARS;
  const metadata = {
    title: email.subject,
    messageId: email.messageId,
    from: email.from,
    to: email.to,
    mailbox: email.mailbox,
  };
  const document = await store.remember({
    ...common,
    content: `${header(email)}\n\n${long ? `${email.text.slice(0, 240)}…` : email.text}`,
    context: email.subject,
    dedupeKey: `email:${email.messageId}`,
    metadata: long ? { ...metadata, chunks: chunkText(email.text).length } : metadata,
  });
  if (long) {
    for (const [index, chunk] of chunkText(email.text).entries()) {
      await store.remember({
        ...common,
        content: chunk,
        context: `${header(email)}`,
        dedupeKey: `email:${email.messageId}:chunk:${index}`,
        metadata: { title: email.subject, documentId: document.id, chunkIndex: index },
      });
    }
  }
  return { memoryId: document.id };
}
