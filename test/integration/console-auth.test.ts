import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import { createRepositories } from '../../db/repositories/index.ts';
import { ConsoleAuth, csrfTokenFor, csrfTokenMatches, hashSecret } from '../../web/console-auth.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine } from '../support/test-spine.ts';

function tokenOf(link: string): string {
  return new URL(link).searchParams.get('token') ?? '';
}

describe.each(DATABASE_KINDS)('web console login links and sessions (%s)', { timeout: 180_000 }, (kind) => {
  const databases = new TestDatabases(kind);
  const spines: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const spine of spines) await spine.close();
    await databases.closeAll();
  });

  async function setup() {
    const clock = new ManualClock('2026-03-02T09:00:00Z');
    const test = await createTestSpine(await databases.open(), { clock, env: { SPINE_OWNER: 'slack:U123' } });
    spines.push(test.spine);
    const auth = new ConsoleAuth({ db: test.spine.db.pool, clock, baseUrl: 'https://spine.example.com' });
    return { ...test, clock, auth };
  }

  it('issues a single-use link, stores only hashes, and opens a session for the identity', async () => {
    const { spine, auth } = await setup();
    const link = await auth.issueLink('slack', 'U123');
    expect(link).toMatch(/^https:\/\/spine\.example\.com\/console\/login\?token=[A-Za-z0-9_-]{43}$/);
    const token = tokenOf(link);
    const stored = await spine.db.pool.query('SELECT token_hash FROM console_login_tokens');
    expect(stored.rows.map((row) => row.token_hash)).toEqual([hashSecret(token)]);

    const first = await auth.login(token);
    expect(first.kind).toBe('logged_in');
    if (first.kind !== 'logged_in') return;
    expect(first.session).toMatchObject({
      operatorId: spine.operator.id,
      channel: 'slack',
      externalId: 'U123',
    });
    const sessions = await spine.db.pool.query('SELECT id_hash FROM console_sessions');
    expect(sessions.rows.map((row) => row.id_hash)).toEqual([hashSecret(first.sessionId)]);
    expect(await auth.session(first.sessionId)).toMatchObject({ operatorId: spine.operator.id });
    expect(auth.secure).toBe(true);

    // Reused: the second use of the same link is refused.
    expect(await auth.login(token)).toMatchObject({ kind: 'refused' });
    // Logging in is an event in the story.
    const events = await spine.repos.events.list({ operatorId: spine.operator.id });
    expect(events.map((event) => `${event.verb} ${event.object}`)).toContain('logged in to the web console');
  });

  it('refuses an expired link and ends an expired session', async () => {
    const { auth, clock } = await setup();
    const stale = tokenOf(await auth.issueLink('console', 'local'));
    clock.advance(10 * 60_000 + 1);
    expect(await auth.login(stale)).toMatchObject({ kind: 'refused' });

    const fresh = await auth.login(tokenOf(await auth.issueLink('console', 'local')));
    if (fresh.kind !== 'logged_in') throw new Error('expected a session');
    clock.advance(7 * 86_400_000 - 1000);
    expect(await auth.session(fresh.sessionId)).not.toBeNull();
    clock.advance(2000);
    expect(await auth.session(fresh.sessionId)).toBeNull();
  });

  it('deletes used and expired links and ended or expired sessions in the hourly sweep', async () => {
    const { auth, clock, spine } = await setup();
    const used = await auth.login(tokenOf(await auth.issueLink('console', 'local')));
    if (used.kind !== 'logged_in') throw new Error('expected a session');
    await auth.issueLink('console', 'local'); // expires unused
    const ended = await auth.login(tokenOf(await auth.issueLink('console', 'local')));
    if (ended.kind !== 'logged_in') throw new Error('expected a session');
    await auth.logout(ended.sessionId);
    clock.advance(11 * 60_000);
    const live = tokenOf(await auth.issueLink('console', 'local'));
    await spine.runner.enqueue({ name: 'sweep-memories', data: { at: 'console-sweep' } });
    await spine.runner.idle();
    const count = async (table: string) =>
      Number((await spine.db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);
    expect(await count('console_login_tokens')).toBe(1);
    expect(await count('console_sessions')).toBe(1);
    expect(await auth.session(used.sessionId)).not.toBeNull();
    expect(await auth.login(live)).toMatchObject({ kind: 'logged_in' });
  });

  it('gives no link to a stranger and no session to an identity that is no longer the operator’s', async () => {
    const { spine, auth } = await setup();
    await expect(auth.issueLink('slack', 'U999')).rejects.toMatchObject({ code: 'console.not_operator' });
    expect(await auth.login('A'.repeat(43))).toMatchObject({ kind: 'refused' });

    // A link issued to slack:U123, which then moves to another operator before it is used.
    const token = tokenOf(await auth.issueLink('slack', 'U123'));
    const other = await spine.db.pool.query(
      `INSERT INTO operators (name, timezone) VALUES ('Mallory', 'UTC') RETURNING id`,
    );
    await spine.db.pool.query(`UPDATE identities SET operator_id = $1 WHERE channel = 'slack'`, [
      other.rows[0].id,
    ]);
    expect(await auth.login(token)).toMatchObject({ kind: 'refused' });

    // A live session ends when its identity is revoked (taken out of SPINE_OWNER).
    await spine.db.pool.query(`UPDATE identities SET operator_id = $1 WHERE channel = 'slack'`, [
      spine.operator.id,
    ]);
    const session = await auth.login(tokenOf(await auth.issueLink('slack', 'U123')));
    if (session.kind !== 'logged_in') throw new Error('expected a session');
    await spine.db.pool.query(`DELETE FROM identities WHERE channel = 'slack'`);
    expect(await auth.session(session.sessionId)).toBeNull();
  });

  it('ends a session on logout (an event) and checks CSRF tokens against the session', async () => {
    const { spine, auth } = await setup();
    const session = await auth.login(tokenOf(await auth.issueLink('console', 'local')));
    if (session.kind !== 'logged_in') throw new Error('expected a session');
    expect(csrfTokenMatches(session.sessionId, csrfTokenFor(session.sessionId))).toBe(true);
    expect(csrfTokenMatches(session.sessionId, csrfTokenFor('another-session-id-0000000'))).toBe(false);
    expect(csrfTokenMatches(session.sessionId, undefined)).toBe(false);
    await auth.logout(session.sessionId);
    expect(await auth.session(session.sessionId)).toBeNull();
    const events = await createRepositories(spine.db.pool).events.list({ operatorId: spine.operator.id });
    expect(events.at(-1)).toMatchObject({ verb: 'logged out of', object: 'the web console' });
  });
});
