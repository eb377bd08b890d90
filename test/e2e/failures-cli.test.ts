import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/database.ts';
import { FailureRepository } from '../../db/repositories/failures.ts';
import { runSpine } from '../support/spine-process.ts';

describe('spine failures and spine renormalize', () => {
  // Several child Spines on the embedded database, one after the other: slow on a busy machine.
  it('list open failures with their remedies, and replay a normalizer as a dry run', {
    timeout: 480_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spine-ledger-cli-'));
    const env = { SPINE_DATA_DIR: join(dir, 'data') };

    const chat = await runSpine(['chat'], "remember that Dana's email is Dana@Example.COM\n", env, 120_000);
    expect(chat.code).toBe(0);

    const none = await runSpine(['failures'], '', env, 120_000);
    expect(none.stdout).toBe('No open failures.\n');

    // A digest that could not be sent, as the job runner records it.
    const db = await openDatabase({ dataDir: env.SPINE_DATA_DIR });
    try {
      const operator = await db.pool.query('SELECT id FROM operators LIMIT 1');
      await new FailureRepository(db.pool).insert({
        goalId: null,
        actionId: null,
        operatorId: Number(operator.rows[0]?.id),
        kind: 'digest_failed',
        message: 'I could not send your digest because of an error: chat is down',
        evidence: {},
        remediation: ['retry', 'dismiss'],
      });
    } finally {
      await db.close();
    }
    const open = await runSpine(['failures'], '', env, 120_000);
    expect(open.code).toBe(0);
    expect(open.stdout).toMatch(
      /^Open failures \(1\):\n• #1 digest failed \(.+\): I could not send your digest because of an error: chat is down\n {2}remedies: retry #1 · dismiss #1 because …\n$/,
    );

    // The fact went in through the current e-mail normalizer already: nothing to change.
    const dry = await runSpine(['renormalize', '--normalizer', 'email'], '', env, 120_000);
    expect(dry.stderr).toBe('');
    expect(dry.stdout).toBe('Renormalize with email v1: 0 of 1 current fact would change.\n');

    const unknown = await runSpine(['renormalize', '--normalizer', 'phone'], '', env, 120_000);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'There is no normalizer "phone". Known: email, contact-name, money, date.',
    );
    const missing = await runSpine(['renormalize'], '', env, 60_000);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('spine renormalize --normalizer email');
  });
});
