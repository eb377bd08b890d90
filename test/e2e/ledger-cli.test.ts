import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/database.ts';
import { runSpine } from '../support/spine-process.ts';

const dataDirs: string[] = [];
afterEach(() => {
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('spine log and spine goal', () => {
  // Several child Spines on the embedded database: slow on a busy two-core machine.
  it('verifies the chain (exit 0, then 1 after tampering), filters the log as text and JSON, and shows a goal', {
    timeout: 300_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'spine-ledger-cli-'));
    dataDirs.push(dataDir);
    const env = { SPINE_DATA_DIR: dataDir };
    const chat = await runSpine(
      ['chat'],
      'email dana@example.com "Tuesday" Tuesday works for me.\napprove\n',
      env,
      120_000,
    );
    expect(chat.code).toBe(0);

    const intact = await runSpine(['log', '--verify'], '', env, 60_000);
    expect(intact.stderr).toBe('');
    // Spine sealed every event with the ledger key and anchored the head when the chat ended.
    expect(intact.stdout).toMatch(
      /^ledger intact: (\d+) events \(head [0-9a-f]{16}\)\n {2}\1 sealed with the ledger key\.\n {2}consistent with the anchor of \S+ \(\1 events up to #\d+\)\.\n$/,
    );
    expect(intact.code).toBe(0);

    const filtered = await runSpine(
      ['log', '--goal', '1', '--actor', 'you', '--since', 'today'],
      '',
      env,
      60_000,
    );
    expect(filtered.code).toBe(0);
    expect(filtered.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^\d\d:\d\d You asked “email dana@example.com/),
      expect.stringMatching(
        /^\d\d:\d\d You approved sending an e-mail to dana@example.com .*via the console\)$/,
      ),
    ]);

    const json = await runSpine(['log', '--connector', 'email', '--limit', '2', '--json'], '', env, 60_000);
    const page = JSON.parse(json.stdout) as { events: Array<{ verb: string }>; nextPage: number | null };
    expect(page.events.map((event) => event.verb)).toEqual(['approved', 'sent']);
    expect(page.nextPage).toBe(2);

    const goal = await runSpine(['goal', '1'], '', env, 60_000);
    expect(goal.code).toBe(0);
    expect(goal.stdout).toContain('Goal #1 (done)');
    expect(goal.stdout).toMatch(/4\. awaitApproval — .*\n(.*\n)*\s+paused for approval #1; resumed with/);
    expect(goal.stdout).toMatch(/action #1 email\.send_email \(write\): .* — succeeded/);

    const missing = await runSpine(['goal', '42'], '', env, 60_000);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('There is no goal #42.');

    // Tamper as the database superuser would: around the append-only trigger.
    const db = await openDatabase({ dataDir });
    await db.pool.query('ALTER TABLE events DISABLE TRIGGER events_append_only');
    await db.pool.query(`UPDATE events SET object = 'nothing' WHERE id = 2`);
    await db.pool.query('ALTER TABLE events ENABLE TRIGGER events_append_only');
    await db.close();

    const broken = await runSpine(['log', '--verify'], '', env, 60_000);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(
      /^ledger BROKEN: 1 problem in \d+ events\n {2}- event #2 was changed with the ledger's triggers disabled: its content no longer matches its hash\.\n$/,
    );
  });
});
