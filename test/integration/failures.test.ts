import { afterAll, describe, expect, it } from 'vitest';
import { TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

// Server Postgres only: the fault is injected by renaming a table under a running graph, which
// PGlite's single connection does not survive (a test artefact, not a Spine path).
describe('failures and progress on server Postgres', () => {
  const databases = new TestDatabases('server');
  const running: TestSpine[] = [];

  afterAll(async () => {
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });

  async function freshSpine(): Promise<TestSpine> {
    const test = await createTestSpine(await databases.open(), {
      env: { SPINE_JOB_ATTEMPTS: '2', SPINE_JOB_BACKOFF_MS: '10', SPINE_PROGRESS_AFTER_MS: '0' },
    });
    running.push(test);
    return test;
  }

  it('turns a job that fails for good into a failure card with Retry / Dismiss; Retry finishes the goal', async () => {
    const test = await freshSpine();
    const { spine, chat } = test;
    await spine.db.pool.query('ALTER TABLE memories RENAME TO memories_away');
    await test.say('remember that the studio rent is 900 a month');
    await spine.db.pool.query('ALTER TABLE memories_away RENAME TO memories');

    const [failure] = await spine.repos.failures.listOpen(spine.operator.id);
    expect(failure?.kind).toBe('job_failed');
    expect(failure?.message).toMatch(/^I could not finish goal #\d+ \(“remember that the studio rent/);
    const card = chat.posts.at(-1)?.message;
    expect(card?.text).toBe(`Failure #${failure?.id}: ${failure?.message}`);
    expect(card?.blocks).toContainEqual({
      type: 'buttons',
      buttons: [
        { action: `failure:retry:${failure?.id}`, label: 'Retry', style: 'primary' },
        { action: `failure:dismiss:${failure?.id}`, label: 'Dismiss' },
      ],
    });
    const [goal] = await spine.repos.goals.recent(spine.operator.id, 1);
    expect(goal?.status).toBe('failed');

    const clicks = await Promise.all(
      [1, 2, 3].map(() =>
        spine.intake.handleButton({
          action: `failure:retry:${failure?.id}`,
          channel: 'console',
          userId: 'local',
          thread: { channel: 'console', conversation: 'local' },
        }),
      ),
    );
    await spine.runner.idle();
    expect(clicks.filter((click) => 'outcome' in click && click.outcome === 'retried')).toHaveLength(1);
    expect(chat.updates.map((update) => update.message.text)).toContain(`Retrying: failure #${failure?.id}`);
    expect((await spine.repos.goals.get(goal!.id))?.status).toBe('done');
    expect(chat.texts()).toContain('Got it — I remembered “the studio rent is 900 a month”.');
    expect(await spine.repos.failures.listOpen(spine.operator.id)).toHaveLength(0);
    // Progress of the job was shown in one message, updated in place.
    const progress = chat.posts.filter((post) =>
      post.message.text.startsWith(`Working on goal #${goal!.id}`),
    );
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(chat.updates.some((update) => update.ref.messageId === progress.at(-1)?.ref.messageId)).toBe(true);
    expect(chat.updates.at(-1)?.message.text).toMatch(new RegExp(`^Goal #${goal!.id}: .* — finished\\.$`));
  });

  it('dismisses the latest failure with the `dismiss` command, once', async () => {
    const test = await freshSpine();
    const { spine, chat } = test;
    await spine.db.pool.query('ALTER TABLE memories RENAME TO memories_away');
    await test.say('remember that the printer is on the left');
    await spine.db.pool.query('ALTER TABLE memories_away RENAME TO memories');
    const [failure] = await spine.repos.failures.listOpen(spine.operator.id);
    await test.say('dismiss');
    expect(chat.texts().at(-1)).toBe(`Dismissed failure #${failure?.id}.`);
    await test.say(`dismiss #${failure?.id}`);
    expect(chat.texts().at(-1)).toBe(`Failure #${failure?.id} was already handled.`);
    const stranger = await spine.intake.handleButton({
      action: `failure:retry:${failure?.id}`,
      channel: 'slack',
      userId: 'U_STRANGER',
    });
    expect(stranger.kind).toBe('forbidden');
    expect(await spine.intake.log(spine.operator.id, 5)).toContain(`dismissed failure #${failure?.id}`);
  });
});
