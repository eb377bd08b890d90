import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { ManualClock } from '../../core/clock.ts';
import { SpineError } from '../../core/errors.ts';
import { parseFailureButton } from '../../core/failure-card.ts';
import { jobGroupOf, jobIdFor } from '../../core/jobs.ts';
import { parseOperationsCommand } from '../../core/operations-commands.ts';
import { isUnrecoverable } from '../../jobs/bullmq-worker.ts';
import { ProgressReporter } from '../../jobs/progress-reporter.ts';
import { RecordingChat } from '../fakes/recording-chat.ts';

describe('job contracts', () => {
  it('gives idempotent job ids without ":" (reserved by BullMQ)', () => {
    const ids = [
      jobIdFor({ name: 'run-goal', data: { goalId: 7 } }),
      jobIdFor({ name: 'run-goal', data: { goalId: 7, retryOf: 3 } }),
      jobIdFor({ name: 'resume-goal', data: { goalId: 7, approvalId: 9 } }),
      jobIdFor({ name: 'send-digest', data: { operatorId: 1, localDate: '2026-03-08' } }),
      jobIdFor({ name: 'send-digest', data: { operatorId: 1, requestId: '123' } }),
      jobIdFor({ name: 'maintenance', data: { task: 'recover' } }),
    ];
    expect(ids).toEqual([
      'goal-7',
      'goal-7-retry-3',
      'approval-9',
      'digest-1-2026-03-08',
      'digest-1-now-123',
      'maintenance-recover',
    ]);
    for (const id of ids) expect(id).not.toContain(':');
  });

  it('groups the jobs of one goal, and the digests of one operator', () => {
    expect(jobGroupOf({ name: 'run-goal', data: { goalId: 7 } })).toBe(
      jobGroupOf({ name: 'resume-goal', data: { goalId: 7, approvalId: 9 } }),
    );
    expect(jobGroupOf({ name: 'send-digest', data: { operatorId: 1, localDate: '2026-01-01' } })).toBe(
      jobGroupOf({ name: 'send-digest', data: { operatorId: 1, requestId: 'x' } }),
    );
  });

  it('does not retry what a retry cannot fix', () => {
    expect(isUnrecoverable(new SpineError('x.bad_input', 'bad', { category: 'user' }))).toBe(true);
    expect(
      isUnrecoverable(new SpineError('x.timeout', 'slow', { category: 'third_party', retryable: true })),
    ).toBe(false);
    expect(isUnrecoverable(new Error('connection reset'))).toBe(false);
  });
});

describe('queue configuration', () => {
  it('refuses queue mode without a Postgres server, saying what to do', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/DATABASE_URL is not/);
  });

  it('uses a hash-tagged prefix by default, and reads the tuning', () => {
    const config = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://localhost/spine',
      SPINE_QUEUE_LOCK_MS: '5000',
      SPINE_TIME_SAVED_MINUTES: 'email.send_email=7, webhook.post=2',
    });
    expect(config.queue?.prefix).toBe('{spine}');
    expect(config.queue?.lockDurationMs).toBe(5000);
    expect(config.digest.minutesSaved['email.send_email']).toBe(7);
    expect(config.digest.minutesSaved['memory.remember']).toBe(1);
    expect(loadConfig({}).queue).toBeUndefined();
  });
});

describe('operations commands and buttons', () => {
  it('parses digest and failure commands', () => {
    expect(parseOperationsCommand('digest')).toEqual({ kind: 'digest-now' });
    expect(parseOperationsCommand('send me the digest')).toEqual({ kind: 'digest-now' });
    expect(parseOperationsCommand('digest at 7:30')).toEqual({
      kind: 'digest-at',
      time: { hour: 7, minute: 30 },
    });
    expect(parseOperationsCommand('digest at 31:00')).toBeNull();
    expect(parseOperationsCommand('retry')).toEqual({ kind: 'failure', choice: 'retry', failureId: null });
    expect(parseOperationsCommand('dismiss #4')).toEqual({
      kind: 'failure',
      choice: 'dismiss',
      failureId: 4,
    });
    expect(parseOperationsCommand('remember the digest')).toBeNull();
    expect(parseFailureButton('failure:retry:12')).toEqual({ choice: 'retry', failureId: 12 });
    expect(parseFailureButton('failure:retry:12;drop')).toBeNull();
  });
});

describe('progress of a long job', () => {
  const thread = { channel: 'console' as const, conversation: 'local' };

  it('shows nothing for a quick job', async () => {
    const chat = new RecordingChat();
    const reporter = new ProgressReporter({
      chat,
      clock: new ManualClock('2026-01-01T00:00:00Z'),
      afterMs: 3000,
    });
    await reporter.step(thread, 1, 'plan');
    await reporter.finish(1, 'done');
    expect(chat.posts).toHaveLength(0);
    expect(chat.updates).toHaveLength(0);
  });

  it('posts one message after the threshold and updates it in place', async () => {
    const chat = new RecordingChat();
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const reporter = new ProgressReporter({ chat, clock, afterMs: 3000 });
    await reporter.step(thread, 5, 'retrieve');
    clock.advance(4000);
    await reporter.step(thread, 5, 'plan');
    await reporter.step(thread, 5, 'execute');
    await reporter.finish(5, 'done');
    expect(chat.texts()).toEqual([
      'Working on goal #5: looking through what I know → working out what to do…',
    ]);
    expect(chat.updates.map((update) => [update.ref.messageId, update.message.text])).toEqual([
      ['1', 'Working on goal #5: looking through what I know → working out what to do → carrying it out…'],
      ['1', 'Goal #5: looking through what I know → working out what to do → carrying it out — finished.'],
    ]);
  });
});
