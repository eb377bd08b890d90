import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConnectorsConfig } from '../../app/connectors-config.ts';
import { goalCheckpointer } from '../../app/ledger-commands.ts';
import { DEFAULT_RETENTION, type RetentionSettings } from '../../app/retention-config.ts';
import type { Spine } from '../../app/spine.ts';
import { ManualClock } from '../../core/clock.ts';
import { RetentionRepository } from '../../db/repositories/retention.ts';
import { type RetentionDeps, scrubGoneMemories, sweepRetention } from '../../jobs/retention.ts';
import { goalForensics } from '../../ledger/goal-forensics.ts';
import { DATABASE_KINDS } from '../support/databases.ts';
import { useTestSpines } from '../support/spine-suite.ts';

const DAY = 86_400_000;
const silent = pino({ level: 'silent' });

function retentionDeps(spine: Spine, settings: Partial<RetentionSettings> = {}): RetentionDeps {
  return {
    repository: new RetentionRepository(spine.db.pool),
    db: spine.db.pool,
    checkpointer: goalCheckpointer(spine),
    settings: { ...DEFAULT_RETENTION, ...settings },
    logger: silent,
  };
}

/** Checkpoint rows of the goal's thread, in all three tables of the checkpointer. */
async function checkpointRows(spine: Spine, goalId: number): Promise<number> {
  const result = await spine.db.pool.query(
    `SELECT (SELECT count(*) FROM checkpoints WHERE thread_id = $1) + (SELECT count(*) FROM checkpoint_blobs
       WHERE thread_id = $1) + (SELECT count(*) FROM checkpoint_writes WHERE thread_id = $1) AS n`,
    [String(goalId)],
  );
  return Number(result.rows[0]?.n);
}

/** Checkpoint rows (any thread) whose bytes contain `text`. */
async function checkpointRowsHolding(spine: Spine, text: string): Promise<number> {
  const result = await spine.db.pool.query(
    `SELECT (SELECT count(*) FROM checkpoint_blobs WHERE position(convert_to($1, 'UTF8') in blob) > 0)
       + (SELECT count(*) FROM checkpoint_writes WHERE position(convert_to($1, 'UTF8') in blob) > 0)
       + (SELECT count(*) FROM checkpoints WHERE position($1 in checkpoint::text) > 0
            OR position($1 in metadata::text) > 0) AS n`,
    [text],
  );
  return Number(result.rows[0]?.n);
}

async function summariesHolding(spine: Spine, text: string): Promise<number> {
  const result = await spine.db.pool.query(
    'SELECT count(*) AS n FROM goal_forensics_summaries WHERE position($1 in steps::text) > 0',
    [text],
  );
  return Number(result.rows[0]?.n);
}

async function newestGoal(spine: Spine): Promise<{ id: number; status: string }> {
  const [goal] = await spine.repos.goals.recent(spine.operator.id, 1);
  if (!goal) throw new Error('no goal');
  return goal;
}

describe('the retention section of spine.config.yaml', () => {
  const file = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'spine-retention-')), 'spine.config.yaml');
    writeFileSync(path, text);
    return path;
  };

  it('has defaults, takes windows and `false`, and refuses windows shorter than the platforms retry', () => {
    expect(loadConnectorsConfig('/nonexistent/spine.config.yaml', {}, { required: false }).retention).toEqual(
      DEFAULT_RETENTION,
    );
    const config = loadConnectorsConfig(
      file('retention:\n  inboxDays: 14\n  modelUsageDays: false\n  goalCheckpointDays: 2\n'),
      {},
      { required: true },
    );
    expect(config.retention).toMatchObject({ inboxDays: 14, modelUsageDays: null, goalCheckpointDays: 2 });
    expect(() =>
      loadConnectorsConfig(file('retention:\n  inboundDeliveryDays: 3\n'), {}, { required: true }),
    ).toThrow(/retention\.inboundDeliveryDays \(line 2\): must be at least 8 days/);
  });
});

describe.each(DATABASE_KINDS)('retention on %s Postgres', (kind) => {
  const spines = useTestSpines(kind);

  it('deletes dedupe rows and model usage past their windows, in bounded batches, and keeps newer ones', async () => {
    const { spine } = await spines.fresh();
    const now = new Date();
    const ago = (days: number) => new Date(now.getTime() - days * DAY);
    const pool = spine.db.pool;
    for (let index = 0; index < 25; index += 1)
      await pool.query('INSERT INTO inbox (channel, delivery_id, received_at) VALUES ($1, $2, $3)', [
        'slack',
        `old-${index}`,
        ago(31),
      ]);
    await pool.query('INSERT INTO inbox (channel, delivery_id, received_at) VALUES ($1, $2, $3)', [
      'slack',
      'recent',
      ago(29),
    ]);
    for (const [id, days] of [
      ['evt_old', 31],
      ['evt_recent', 29],
    ] as const)
      await pool.query(
        'INSERT INTO inbound_deliveries (source, delivery_id, type, received_at) VALUES ($1, $2, $3, $4)',
        ['stripe', id, 'invoice.paid', ago(days)],
      );
    for (const [purpose, days] of [
      ['old', 401],
      ['recent', 399],
    ] as const)
      await pool.query(
        `INSERT INTO llm_usage (operator_id, role, purpose, model, day, at) VALUES ($1, 'small', $2, 'm', $3, $4)`,
        [spine.operator.id, purpose, ago(days).toISOString().slice(0, 10), ago(days)],
      );
    const events = Number((await pool.query('SELECT count(*) AS n FROM events')).rows[0]?.n);

    // Two statements of ten rows per table and run: 20 of the 25 old deliveries go, the rest next time.
    const bounded = retentionDeps(spine, { batchSize: 10, maxBatches: 2 });
    expect(await sweepRetention(bounded, now)).toMatchObject({
      inbox: 20,
      inboundDeliveries: 1,
      modelUsage: 1,
      more: true,
    });
    expect(await sweepRetention(bounded, now)).toMatchObject({ inbox: 5, more: false });
    expect(await sweepRetention(bounded, now)).toMatchObject({
      inbox: 0,
      inboundDeliveries: 0,
      modelUsage: 0,
    });

    const left = async (sql: string) => (await pool.query(sql)).rows.map((row) => Object.values(row)[0]);
    expect(await left(`SELECT delivery_id FROM inbox WHERE channel = 'slack'`)).toEqual(['recent']);
    expect(await left('SELECT delivery_id FROM inbound_deliveries')).toEqual(['evt_recent']);
    expect(await left('SELECT purpose FROM llm_usage')).toEqual(['recent']);
    // The event log is never pruned.
    expect(Number((await pool.query('SELECT count(*) AS n FROM events')).rows[0]?.n)).toBe(events);
  });

  it("prunes a finished goal's checkpoints after the window, answers `goal #id` from the summary, and never prunes a running goal", async () => {
    const { spine, say, chat } = await spines.fresh();
    await say('remember that Dana prefers calls before 10am');
    const finished = await newestGoal(spine);
    expect(finished.status).toBe('done');
    await say('email dana@example.com "Tuesday" Tuesday works for me.');
    const waiting = await newestGoal(spine);
    expect(waiting.status).toBe('awaiting_approval');
    const deps = retentionDeps(spine);
    const forensics = () =>
      goalForensics(
        { db: spine.db.pool, checkpointer: goalCheckpointer(spine) },
        spine.operator.id,
        finished.id,
      );
    const before = await forensics();
    expect(before.steps.map((step) => step.node)).toContain('remember');
    const waitingRows = await checkpointRows(spine, waiting.id);
    expect(waitingRows).toBeGreaterThan(0);

    // Inside the window nothing goes.
    expect(await sweepRetention(deps, new Date(Date.now() + 6 * DAY))).toMatchObject({ goalCheckpoints: 0 });
    expect(await checkpointRows(spine, finished.id)).toBeGreaterThan(0);

    const pruned = await sweepRetention(deps, new Date(Date.now() + 8 * DAY));
    expect(pruned).toMatchObject({ goalCheckpoints: 1 });
    expect(pruned.checkpointRows).toBeGreaterThan(0);
    expect(await checkpointRows(spine, finished.id)).toBe(0);
    // A goal still waiting for its approval keeps every checkpoint, however old.
    expect(await checkpointRows(spine, waiting.id)).toBe(waitingRows);
    expect(await sweepRetention(deps, new Date(Date.now() + 800 * DAY))).toMatchObject({
      goalCheckpoints: 0,
    });
    expect(await checkpointRows(spine, waiting.id)).toBe(waitingRows);

    // Forensics tell the same story from the summary.
    const after = await forensics();
    expect(after.steps).toEqual(before.steps);
    expect(after.checkpoints).toBe(before.checkpoints);
    expect(after.pruned).toEqual({ at: expect.any(Date), redacted: false });
    await say(`goal #${finished.id}`);
    const text = chat.texts().at(-1) ?? '';
    expect(text).toContain(`Goal #${finished.id} (done)`);
    expect(text).toContain('Its checkpoints were pruned');
    expect(text).toMatch(/\d\. remember — /);
    expect(text).toContain('out: memories');

    // The waiting goal still finishes.
    await say('approve');
    expect((await spine.repos.goals.get(waiting.id))?.status).toBe('done');
  });

  it("removes an expired memory's text from every checkpoint row and summary, and keeps a running goal working", async () => {
    const clock = new ManualClock(new Date());
    const start = clock.now().getTime();
    const configDir = mkdtempSync(join(tmpdir(), 'spine-retention-'));
    // Approvals outlive the days the clock moves on here.
    writeFileSync(join(configDir, 'spine.config.yaml'), 'guardrails:\n  approvalExpiry:\n    default: 30d\n');
    const { spine, say, chat } = await spines.fresh({
      clock,
      env: { SPINE_CONFIG: join(configDir, 'spine.config.yaml') },
    });
    const secret = 'ZEBRA-4417';
    const memory = await spine.memory.remember({
      operatorId: spine.operator.id,
      kind: 'fact',
      content: `Dana door code is ${secret}`,
      subject: 'Dana',
      attribute: 'door code',
      provenance: { source: 'console', assertedBy: 'operator' },
      sensitivity: 'private',
      expiresAt: new Date(start + 3 * DAY),
    });

    // A goal that quoted it, settled and pruned (window 1 day) while the memory lived: its summary quotes it.
    await say('what is the door code of Dana?', 'early');
    const early = await newestGoal(spine);
    expect(chat.texts().at(-1)).toContain(secret);
    await sweepRetention(retentionDeps(spine, { goalCheckpointDays: 1 }), new Date(start + 2 * DAY));
    expect(await checkpointRows(spine, early.id)).toBe(0);
    expect(await summariesHolding(spine, secret)).toBe(1);

    // One more that quoted it and is done, and one that read it and waits for an approval.
    await say('what is the door code of Dana?', 'late');
    const done = await newestGoal(spine);
    await say('email dana@example.com "Door" See you Tuesday, Dana.', 'waiting');
    const waiting = await newestGoal(spine);
    expect(waiting.status).toBe('awaiting_approval');
    expect(await checkpointRows(spine, done.id)).toBeGreaterThan(0);
    const waitingState = await spine.graph.getState({ configurable: { thread_id: String(waiting.id) } });
    expect(waitingState.values.memories.map((pointer: { id: number }) => pointer.id)).toContain(memory.id);
    expect(await checkpointRowsHolding(spine, secret)).toBeGreaterThan(0);

    // The hourly memory sweep, once the memory expired: it deletes the memory, then scrubs.
    clock.set(new Date(start + 4 * DAY));
    await spine.jobs.enqueue({ name: 'sweep-memories', data: { at: 'retention-test' } });
    await spine.runner.idle();
    expect(await spine.db.pool.query('SELECT 1 FROM memories WHERE id = $1', [memory.id])).toMatchObject({
      rowCount: 0,
    });
    expect(await checkpointRowsHolding(spine, secret)).toBe(0);
    expect(await summariesHolding(spine, secret)).toBe(0);

    // The settled goal went, with a redacted summary that still answers `goal #id`.
    expect(await checkpointRows(spine, done.id)).toBe(0);
    const doneStory = await goalForensics(
      { db: spine.db.pool, checkpointer: goalCheckpointer(spine) },
      spine.operator.id,
      done.id,
    );
    expect(doneStory.pruned).toEqual({ at: expect.any(Date), redacted: true });
    expect(doneStory.steps.map((step) => step.node)).toContain('plan');
    expect(doneStory.steps.flatMap((step) => step.memories.map((pointer) => pointer.id))).toContain(
      memory.id,
    );

    // The waiting goal kept its checkpoints, pointing at the memory without its text, and finishes.
    expect(await checkpointRows(spine, waiting.id)).toBeGreaterThan(0);
    const scrubbed = await spine.graph.getState({ configurable: { thread_id: String(waiting.id) } });
    expect(
      scrubbed.values.memories.find((pointer: { id: number }) => pointer.id === memory.id),
    ).toMatchObject({ snippet: '' });
    await say('approve', 'waiting');
    expect((await spine.repos.goals.get(waiting.id))?.status).toBe('done');
    expect(await checkpointRowsHolding(spine, secret)).toBe(0);

    // Settled only minutes ago (its graph may still be on its last node): scrubbed, not yet pruned.
    expect(await scrubGoneMemories(retentionDeps(spine), new Date())).toMatchObject({ goalsPruned: 0 });
    expect(await checkpointRows(spine, waiting.id)).toBeGreaterThan(0);
    // Later, the next sweep prunes it too; a second pass changes nothing.
    await spine.jobs.enqueue({ name: 'sweep-memories', data: { at: 'retention-test-2' } });
    await spine.runner.idle();
    expect(await checkpointRows(spine, waiting.id)).toBe(0);
    const again = await sweepRetention(retentionDeps(spine, { goalCheckpointDays: null }), clock.now());
    expect(again).toMatchObject({ goalsPruned: 0, rowsRewritten: 0, summariesRedacted: 0 });
  });
});
