import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { jobIdFor } from '../../core/jobs.ts';
import { TestDatabases } from '../support/databases.ts';
import {
  createQueueSpine,
  deletePrefix,
  type QueueSpine,
  uniquePrefix,
  waitUntil,
} from '../support/queue-spine.ts';

const PLAYBOOK = `name: greet
description: Draft a greeting and ask before finishing
trigger:
  chat: { command: greet }
steps:
  - id: greeting
    draft: { template: "Hello from {{ playbook.name }}" }
  - id: review
    checkpoint: { message: "Keep the greeting?", show: steps.greeting }
`;

describe('playbooks in queue mode (BullMQ, real Redis, server Postgres)', () => {
  const databases = new TestDatabases('server');
  const spines: QueueSpine[] = [];
  const prefixes: string[] = [];

  afterEach(async () => {
    for (const each of spines.splice(0)) await each.spine.close();
    for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
    await databases.closeAll();
  });

  it('a worker runs the playbook, the checkpoint card reaches chat, and the approval resumes it on the worker', async () => {
    const db = await databases.open();
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const main = await createQueueSpine(db, { prefix, role: 'main' });
    spines.push(main);
    spines.push(await createQueueSpine(db, { prefix, role: 'worker' }));
    await main.send(`playbook add ${PLAYBOOK}`);
    await main.send('run greet');
    await waitUntil(
      () => main.chat.texts().some((text) => text.includes('Keep the greeting?')),
      'the checkpoint card',
    );
    const goal = (await main.spine.repos.goals.recent(main.spine.operator.id, 1))[0];
    // The run went through BullMQ as a run-playbook job (job id = goal id), and stopped at the interrupt.
    const jobId = jobIdFor({ name: 'run-playbook', data: { goalId: goal?.id ?? 0 } });
    await waitUntil(
      async () => (await main.spine.queueMode?.queue.queue.getJobState(jobId)) === 'completed',
      'the run-playbook job to complete',
    );
    await main.send('approve');
    await waitUntil(
      () => main.chat.texts().some((text) => text.includes('Playbook greet finished.')),
      'the final reply',
    );
    // The reply is posted before the goal is closed: wait for the close too.
    await waitUntil(
      async () => (await main.spine.repos.goals.get(goal?.id ?? 0))?.status === 'done',
      'the goal to close',
    );
  });

  it('enabling a scheduled playbook registers a BullMQ job scheduler with its cron in the operator time zone', async () => {
    const db = await databases.open();
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const main = await createQueueSpine(db, { prefix, role: 'main' });
    spines.push(main);
    const source = readFileSync(
      new URL('../../playbooks/examples/weekly-newsletter.yaml', import.meta.url),
      'utf8',
    );
    await main.send(`playbook add ${source}`);
    await main.send('playbook enable weekly-newsletter');
    const playbook = await main.spine.playbooks.store.get(main.spine.operator.id, 'weekly-newsletter');
    const schedulers = (await main.spine.queueMode?.queue.report())?.schedulers ?? [];
    expect(schedulers.find((scheduler) => scheduler.id === `playbook-${playbook?.id}`)).toMatchObject({
      pattern: '0 15 * * 5',
      tz: 'UTC',
    });
    await main.send('playbook disable weekly-newsletter');
    const after = (await main.spine.queueMode?.queue.report())?.schedulers ?? [];
    expect(after.some((scheduler) => scheduler.id === `playbook-${playbook?.id}`)).toBe(false);
  });
});
