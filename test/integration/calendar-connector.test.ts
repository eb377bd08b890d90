import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CalDavClient } from '../../connectors/calendar/caldav-client.ts';
import { createCalendarConnector } from '../../connectors/calendar/calendar-connector.ts';
import { recordCompensation } from '../../connectors/compensation.ts';
import { volatileCheckpoints } from '../../connectors/connector.ts';
import { ConnectorRuntime } from '../../connectors/connector-runtime.ts';
import { ManualClock } from '../../core/clock.ts';
import { RadicaleServer } from '../fakes/radicale-server.ts';
import { createConnectorHarness } from '../support/connector-harness.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

describe.each(DATABASE_KINDS)('calendar over CalDAV (Radicale) on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const radicale = new RadicaleServer();
  const clock = new ManualClock('2026-11-25T08:00:00Z');

  beforeAll(async () => {
    await radicale.start();
    // Warm the embedded database once, so no single test pays for its start-up.
    await databases.open();
  }, 180_000);
  afterAll(async () => {
    await radicale.stop();
    await databases.closeAll();
  });

  const calDav = () =>
    new CalDavClient({
      url: radicale.url,
      username: radicale.username,
      password: radicale.password,
      calendar: 'Work',
    });

  async function setup() {
    const client = calDav();
    const calendar = createCalendarConnector({ client, clock, timezone: 'Europe/Berlin' });
    const db = await databases.open();
    const harness = await createConnectorHarness(db, [calendar], {
      resilience: { initialDelayMs: 10, timeoutMs: 10_000 },
    });
    return { client, calendar, harness, db };
  }

  async function undo(harness: Awaited<ReturnType<typeof setup>>['harness'], actionId: number) {
    const original = await harness.repos.actions.get(actionId);
    const compensation = await recordCompensation(
      harness.runtime,
      harness.repos.connectorState,
      original!,
      'undo',
    );
    return harness.runtime.execute(compensation.action.id);
  }

  it('creates, moves and cancels an event, and each undo restores the previous state', {
    timeout: 180_000,
  }, async () => {
    const { client, calendar, harness } = await setup();
    const title = `Call with Dana ${kind}`;
    const create = await harness.store(
      {
        connector: 'calendar',
        operation: 'create_event',
        params: { title, start: '2026-11-25T13:00:00Z', end: '2026-11-25T13:30:00Z' },
        why: 't',
      },
      `cal-${kind}-create`,
    );
    expect(create.preview.fields).toContainEqual({
      label: 'When',
      value: '25 Nov 2026, 14:00 – 25 Nov 2026, 14:30',
    });
    const created = await harness.runtime.execute(create.id);
    expect(created.status).toBe('succeeded');
    const uid = (created.action.result as { uid: string }).uid;
    // Counted in Radicale's storage, where a second event could not be collapsed by a query.
    expect(radicale.countEvents(title)).toBe(1);

    // The digest's provider sees today's events in the operator's time zone.
    const today = await calendar.provider.eventsOfDay(new Date('2026-11-25T10:00:00Z'), 'Europe/Berlin');
    expect(today.map((event) => event.title)).toContain(title);

    const move = await harness.store(
      {
        connector: 'calendar',
        operation: 'move_event',
        params: { uid, start: '2026-11-25T15:00:00Z', end: '2026-11-25T15:30:00Z' },
        why: 't',
      },
      `cal-${kind}-move`,
    );
    expect(move.preview.body).toBe(
      `- 25 Nov 2026, 14:00 – 25 Nov 2026, 14:30  ${title}\n+ 25 Nov 2026, 16:00 – 25 Nov 2026, 16:30  ${title}`,
    );
    expect((await harness.runtime.execute(move.id)).status).toBe('succeeded');
    expect((await client.find(uid))?.event.start.toISOString()).toBe('2026-11-25T15:00:00.000Z');
    expect(radicale.countEvents(title)).toBe(1);

    expect((await undo(harness, move.id)).status).toBe('succeeded');
    expect((await client.find(uid))?.event.start.toISOString()).toBe('2026-11-25T13:00:00.000Z');
    expect(radicale.countEvents(title)).toBe(1);

    const cancel = await harness.store(
      { connector: 'calendar', operation: 'cancel_event', params: { uid }, why: 't' },
      `cal-${kind}-cancel`,
    );
    expect(cancel.risk).toBe('destructive');
    expect((await harness.runtime.execute(cancel.id)).status).toBe('succeeded');
    expect(await client.find(uid)).toBeNull();
    expect(radicale.countEvents(title)).toBe(0);
    expect((await undo(harness, cancel.id)).status).toBe('succeeded');
    expect((await client.find(uid))?.event.title).toBe(title);
    expect(radicale.countEvents(title)).toBe(1);

    expect((await undo(harness, create.id)).status).toBe('succeeded');
    expect(await client.find(uid)).toBeNull();
    expect(radicale.countEvents(title)).toBe(0);
  });

  it('a move or cancel cut off by a crash after the change is finished after a restart, and undo still restores the original', {
    timeout: 180_000,
  }, async () => {
    const { client, harness, db } = await setup();
    const title = `Crash ${kind}`;
    const create = await harness.store(
      {
        connector: 'calendar',
        operation: 'create_event',
        params: { title, start: '2026-11-27T09:00:00Z', end: '2026-11-27T10:00:00Z' },
        why: 't',
      },
      `cal-${kind}-crash-create`,
    );
    const uid = ((await harness.runtime.execute(create.id)).action.result as { uid: string }).uid;

    // The process that dies: its calendar client makes the change, then never hears back (the
    // process is gone before the outcome is stored). Its connector instance, and anything it held in
    // memory, go with it; `harness.runtime` plays the restarted process with a fresh connector.
    const dead: Array<() => void> = [];
    const dying = calDav();
    const never = () =>
      new Promise<never>((_resolve, reject) => dead.push(() => reject(new Error('killed'))));
    const put = dying.put.bind(dying);
    const remove = dying.delete.bind(dying);
    dying.put = async (...args) => {
      await put(...args);
      return never();
    };
    dying.delete = async (...args) => {
      await remove(...args);
      return never();
    };
    const crashed = new ConnectorRuntime(
      [createCalendarConnector({ client: dying, clock, timezone: 'Europe/Berlin' })],
      {
        actions: harness.repos.actions,
        logger: pino({ level: 'silent' }),
        resilience: { initialDelayMs: 10, timeoutMs: 120_000 },
        // A dead process renews nothing: a lease it would renew only after the test is over.
        leaseMs: 600_000,
      },
    );
    // The restarted process finds the dead one's claim lapsed (as it would a minute later).
    const lapse = (actionId: number) =>
      db.pool.query(`UPDATE actions SET lease_until = now() - interval '1 second' WHERE id = $1`, [actionId]);
    try {
      const move = await harness.store(
        {
          connector: 'calendar',
          operation: 'move_event',
          params: { uid, start: '2026-11-27T15:00:00Z', end: '2026-11-27T16:00:00Z' },
          why: 't',
        },
        `cal-${kind}-crash-move`,
      );
      void crashed.execute(move.id).catch(() => {});
      await vi.waitFor(async () =>
        expect((await client.find(uid))?.event.start.toISOString()).toBe('2026-11-27T15:00:00.000Z'),
      );
      expect((await harness.repos.actions.get(move.id))?.status).toBe('executing');
      await lapse(move.id);
      const finished = await harness.runtime.execute(move.id);
      expect(finished.status).toBe('succeeded');
      // The time before the move, not the moved event the restarted process finds in the calendar.
      expect(finished.action.result).toMatchObject({ previousStart: '2026-11-27T09:00:00.000Z' });
      expect((await undo(harness, move.id)).status).toBe('succeeded');
      expect((await client.find(uid))?.event.start.toISOString()).toBe('2026-11-27T09:00:00.000Z');
      expect(radicale.countEvents(title)).toBe(1);

      const cancel = await harness.store(
        { connector: 'calendar', operation: 'cancel_event', params: { uid }, why: 't' },
        `cal-${kind}-crash-cancel`,
      );
      void crashed.execute(cancel.id).catch(() => {});
      await vi.waitFor(async () => expect(await client.find(uid)).toBeNull());
      await lapse(cancel.id);
      // The event is gone, yet the cancel finishes (not "no event with that UID") and can be undone.
      const cancelled = await harness.runtime.execute(cancel.id);
      expect(cancelled.status).toBe('succeeded');
      expect((await undo(harness, cancel.id)).status).toBe('succeeded');
      expect((await client.find(uid))?.event).toMatchObject({
        title,
        start: new Date('2026-11-27T09:00:00Z'),
      });
      // Finished by another process and undone: still one event in the calendar's storage.
      expect(radicale.countEvents(title)).toBe(1);
    } finally {
      for (const kill of dead) kill();
    }
  });

  it('creating twice under one key (a retry after the server committed) leaves one event', async () => {
    const { client, calendar } = await setup();
    const params = { title: `Retry ${kind}`, start: '2026-11-26T09:00:00Z', end: '2026-11-26T10:00:00Z' };
    const context = {
      idempotencyKey: `cal-${kind}-retry`,
      signal: new AbortController().signal,
      checkpoint: volatileCheckpoints(),
    };
    await calendar.operations.create_event!.execute(params, context);
    await calendar.operations.create_event!.execute(params, context);
    const events = await client.list(new Date('2026-11-26T00:00:00Z'), new Date('2026-11-27T00:00:00Z'));
    expect(events.filter((stored) => stored.event.title === params.title)).toHaveLength(1);
    expect(radicale.countEvents(params.title)).toBe(1);
  });

  it('names the problem when the password is wrong', async () => {
    const client = new CalDavClient({ url: radicale.url, username: radicale.username, password: 'nope' });
    await expect(client.list(new Date(), new Date(Date.now() + 1000))).rejects.toMatchObject({
      code: 'calendar.unreachable',
    });
  });
});
