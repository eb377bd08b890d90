import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import { SmtpSink } from '../fakes/smtp-sink.ts';
import { smtpEnv } from '../support/sink-config.ts';
import { runSpine } from '../support/spine-process.ts';

const KEY = 'sk-e2e-openai-0123456789abcdef';

describe('spine chat with a model configured from the environment', () => {
  const server = fakeOpenAiServer();
  // The e-mail is counted at an SMTP server that keeps every message (the outbox overwrites repeats).
  const smtp = new SmtpSink();
  let url = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-e2e-models-'));

  beforeAll(async () => {
    url = await server.start();
    await smtp.start();
  });

  afterAll(async () => {
    await server.close();
    await smtp.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('plans with the model over HTTP, shows the card, sends after approval, and reports usage', async () => {
    server.script(
      {
        toolCalls: [
          {
            name: 'email__send_email',
            args: {
              to: 'dana@example.com',
              subject: 'Tuesday',
              body: 'Tuesday works for me.',
              why: 'reply to Dana',
            },
          },
        ],
        usage: { input: 2_000, output: 60 },
      },
      { text: 'I drafted a reply to Dana.', usage: { input: 2_200, output: 10 } },
    );
    const run = await runSpine(
      ['chat'],
      'tell Dana that Tuesday works for me\napprove\nusage\n',
      smtpEnv(smtp, {
        SPINE_DATA_DIR: dataDir,
        SPINE_MODEL_LARGE: 'openai:gpt-4o-mini',
        OPENAI_BASE_URL: `${url}/v1`,
        OPENAI_API_KEY: KEY,
        SPINE_MODEL_MAX_RETRIES: '0',
      }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Approval #1 — Send an e-mail to dana@example.com');
    expect(run.stdout).toContain('  To: dana@example.com\n  Subject: Tuesday\n  Body: Tuesday works for me.');
    expect(run.stdout).toContain('I drafted a reply to Dana.');
    expect(run.stdout).toContain('Done: sent an e-mail to dana@example.com');
    expect(run.stdout).toMatch(
      /Today \(\d{4}-\d{2}-\d{2}\): \$0\.0007 — 0% of your \$5\.00 daily budget; 2 model calls/,
    );
    expect(smtp.accepted).toHaveLength(1);
    expect(smtp.accepted[0]?.raw).toContain('Tuesday works for me.');
    expect(server.requests.map((request) => request.headers.authorization)).toEqual([
      `Bearer ${KEY}`,
      `Bearer ${KEY}`,
    ]);
    expect(`${run.stdout}${run.stderr}`).not.toContain(KEY);
  });
});
