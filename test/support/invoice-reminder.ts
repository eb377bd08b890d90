import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import type { createTestSpine, TestSpine } from './test-spine.ts';

/** An AI message with token usage, as a provider would return it. */
function answer(text: string): AIMessage {
  return new AIMessage({
    content: text,
    usage_metadata: { input_tokens: 1000, output_tokens: 200, total_tokens: 1200 },
  });
}

/**
 * Spine options with a priced large model (openai:gpt-4o-mini, faked) that plans the invoice
 * reminder to Dana as one e-mail and then answers: model calls with a cost, an approval, a
 * connector call.
 */
export function invoiceReminderOptions(): NonNullable<Parameters<typeof createTestSpine>[1]> {
  const model = fakeModel()
    .respondWithTools([
      {
        name: 'email__send_email',
        args: {
          to: 'dana@example.com',
          subject: 'Invoice',
          body: 'A reminder.',
          why: 'the invoice is due',
        },
      },
    ])
    .respond(answer('The reminder is ready for your approval.'));
  return {
    env: { SPINE_MODEL_LARGE: 'openai:gpt-4o-mini', OPENAI_API_KEY: 'sk-test-ledger-0123456789' },
    models: { small: model, large: model },
  };
}

/** A fact about Dana in memory, then the goal asked and approved in chat. */
export async function runInvoiceReminder(test: Pick<TestSpine, 'spine' | 'say'>): Promise<void> {
  await test.spine.memory.remember({
    operatorId: test.spine.operator.id,
    kind: 'fact',
    content: 'Dana pays invoices late',
    provenance: { source: 'console', assertedBy: 'console:local' },
  });
  await test.say('send Dana the invoice reminder');
  await test.say('approve');
}
