import { describe, expect, it } from 'vitest';
import type { SpineEvent } from '../../core/domain.ts';
import { renderEvent } from '../../core/narrative.ts';

const at = new Date('2026-07-01T07:14:00Z');

function sentence(fields: Partial<SpineEvent> & Pick<SpineEvent, 'actor' | 'verb' | 'object'>): string {
  const event: SpineEvent = {
    id: 1,
    at,
    operatorId: 1,
    why: null,
    ref: null,
    goalId: null,
    actionId: null,
    channel: null,
    payload: {},
    ...fields,
  };
  return renderEvent(event, { timezone: 'Europe/Berlin' });
}

// One case per event the codebase appends (grep `verb:` in app bot graphs jobs memory connectors db),
// with the fields those appends set, and the sentence the operator reads.
describe('every event the codebase records reads as one plain sentence', () => {
  it.each<[string, Partial<SpineEvent> & Pick<SpineEvent, 'actor' | 'verb' | 'object'>, string]>([
    [
      'a goal is asked',
      {
        actor: 'operator',
        verb: 'asked',
        object: '“email Dana about the invoice”',
        goalId: 41,
        channel: 'slack',
      },
      '09:14 You asked “email Dana about the invoice” (goal #41, via Slack)',
    ],
    [
      'the guard proposes an action',
      {
        actor: 'spine',
        verb: 'proposed',
        object: 'sending the invoice reminder to Dana',
        why: 'you asked me to send it',
        ref: 'action #3',
        goalId: 41,
      },
      '09:14 Spine proposed sending the invoice reminder to Dana because you asked Spine to send it (goal #41, action #3)',
    ],
    [
      'an approval is requested',
      {
        actor: 'spine',
        verb: 'asked for your approval before',
        object: 'sending the invoice reminder to Dana',
        ref: 'approval #7',
        goalId: 41,
      },
      '09:14 Spine asked for your approval before sending the invoice reminder to Dana (goal #41, approval #7)',
    ],
    [
      'the operator approves',
      {
        actor: 'operator',
        verb: 'approved',
        object: 'sending the invoice reminder to Dana',
        ref: 'approval #7',
        goalId: 41,
        channel: 'slack',
      },
      '09:14 You approved sending the invoice reminder to Dana (goal #41, approval #7, via Slack)',
    ],
    [
      'the operator rejects',
      { actor: 'operator', verb: 'rejected', object: 'sending a refund', goalId: 2, channel: 'telegram' },
      '09:14 You rejected sending a refund (goal #2, via Telegram)',
    ],
    [
      'the operator edits before approving',
      {
        actor: 'operator',
        verb: 'edited',
        object: 'sending an e-mail to Dana',
        why: 'changed subject, body before approving',
        ref: 'approval #7',
        goalId: 41,
        channel: 'console',
      },
      '09:14 You edited sending an e-mail to Dana: changed subject, body before approving (goal #41, approval #7, via the console)',
    ],
    [
      'a connector call succeeds',
      { actor: 'spine', verb: 'sent', object: 'an e-mail to Dana', ref: 'action #3', goalId: 41 },
      '09:14 Spine sent an e-mail to Dana (goal #41, action #3)',
    ],
    [
      'a connector call fails',
      {
        actor: 'spine',
        verb: 'failed at',
        object: 'sending an e-mail to Dana',
        why: 'the SMTP server refused the connection',
        ref: 'action #3',
        goalId: 41,
      },
      '09:14 Spine failed at sending an e-mail to Dana: the SMTP server refused the connection (goal #41, action #3)',
    ],
    [
      'a goal finishes',
      { actor: 'spine', verb: 'finished', object: 'goal #41', goalId: 41 },
      '09:14 Spine finished goal #41',
    ],
    [
      'a goal cannot finish',
      { actor: 'spine', verb: 'could not finish', object: 'goal #41', goalId: 41 },
      '09:14 Spine could not finish goal #41',
    ],
    [
      'the operator asks to undo',
      {
        actor: 'operator',
        verb: 'asked to undo',
        object: 'adding “Call Dana” to the calendar',
        ref: 'action #4',
        goalId: 9,
        channel: 'slack',
      },
      '09:14 You asked to undo adding “Call Dana” to the calendar (goal #9, action #4, via Slack)',
    ],
    [
      'Spine undoes',
      {
        actor: 'spine',
        verb: 'removed',
        object: '“Call Dana” from the calendar (undo)',
        why: 'you asked to undo action #4',
        ref: 'action #5',
        goalId: 9,
      },
      '09:14 Spine removed “Call Dana” from the calendar (undo) because you asked to undo action #4 (goal #9, action #5)',
    ],
    [
      'the operator trusts a target',
      {
        actor: 'operator',
        verb: 'chose to always allow',
        object: 'email send_email to dana@example.com',
        ref: 'trust rule #2',
        channel: 'slack',
      },
      '09:14 You chose to always allow email send_email to dana@example.com (trust rule #2, via Slack)',
    ],
    [
      'the operator revokes trust',
      {
        actor: 'operator',
        verb: 'stopped always allowing',
        object: 'email send_email to dana@example.com',
        ref: 'trust rule #2',
        channel: 'slack',
      },
      '09:14 You stopped always allowing email send_email to dana@example.com (trust rule #2, via Slack)',
    ],
    [
      'the operator cancels a scheduled action',
      {
        actor: 'operator',
        verb: 'cancelled',
        object: 'sending an e-mail to Dana',
        why: 'it was scheduled and had not run yet',
        ref: 'action #6',
        goalId: 12,
        channel: 'console',
      },
      '09:14 You cancelled sending an e-mail to Dana because it was scheduled and had not run yet (goal #12, action #6, via the console)',
    ],
    [
      'the operator retries after a failure',
      { actor: 'operator', verb: 'asked to retry after', object: 'failure #3', goalId: 41, channel: 'slack' },
      '09:14 You asked to retry after failure #3 (goal #41, via Slack)',
    ],
    [
      'the operator asks to retry',
      { actor: 'operator', verb: 'asked to retry', object: 'failure #3', goalId: 41, channel: 'slack' },
      '09:14 You asked to retry failure #3 (goal #41, via Slack)',
    ],
    [
      'the operator dismisses a failure',
      { actor: 'operator', verb: 'dismissed', object: 'failure #3', goalId: 41, channel: 'telegram' },
      '09:14 You dismissed failure #3 (goal #41, via Telegram)',
    ],
    [
      'the operator moves the digest',
      { actor: 'operator', verb: 'moved', object: 'the daily digest to 07:30', channel: 'slack' },
      '09:14 You moved the daily digest to 07:30 (via Slack)',
    ],
    [
      'the digest is sent late',
      {
        actor: 'spine',
        verb: 'sent you',
        object: 'the digest for 2026-07-01',
        why: 'it was missed while Spine was not running',
        ref: 'digest #3',
        channel: 'slack',
      },
      '09:14 Spine sent you the digest for 2026-07-01 because it was missed while Spine was not running (digest #3, via Slack)',
    ],
    [
      'the digest cannot be sent',
      {
        actor: 'spine',
        verb: 'could not send',
        object: 'the digest',
        why: 'Slack answered 503',
        ref: 'failure #8',
      },
      '09:14 Spine could not send the digest: Slack answered 503 (failure #8)',
    ],
    [
      'memories are re-embedded',
      {
        actor: 'spine',
        verb: 're-embedded',
        object: '120 memories with local-minilm',
        why: 'the embeddings configuration changed',
      },
      '09:14 Spine re-embedded 120 memories with local-minilm because the embeddings configuration changed',
    ],
    [
      'a stranger is refused',
      {
        actor: 'slack:U999',
        verb: 'was refused when trying to',
        object: 'approve approval #7',
        why: 'they are not one of the operator’s identities',
        channel: 'slack',
      },
      '09:14 Someone on Slack (U999) was refused when trying to approve approval #7 because they are not one of the operator’s identities (via Slack)',
    ],
  ])('%s', (_what, fields, expected) => {
    expect(sentence(fields)).toBe(expected);
  });
});
