import { describe, expect, it } from 'vitest';
import { parseConnectorButton } from '../../core/cards.ts';
import { parseChatCommand } from '../../core/commands.ts';
import { RISK_CLASSES } from '../../core/domain.ts';
import { decidePolicy, offersAlwaysAllow } from '../../core/policy.ts';
import { parseDelayedRequest } from '../../core/schedule-time.ts';

const now = new Date('2026-06-01T12:00:00Z');
const past = new Date('2026-05-01T00:00:00Z');
const future = new Date('2026-07-01T00:00:00Z');

describe('policy guardrails', () => {
  it('always asks for money, legal and destructive actions, even trusted and after probation', () => {
    for (const risk of ['money', 'legal', 'destructive'] as const) {
      expect(decidePolicy({ risk, external: true, now, probationUntil: past, trusted: true }).decision).toBe(
        'approval',
      );
    }
  });

  it('asks for external writes during probation even when trusted, and not after it when trusted', () => {
    expect(
      decidePolicy({ risk: 'write', external: true, now, probationUntil: future, trusted: true }).decision,
    ).toBe('approval');
    expect(
      decidePolicy({ risk: 'write', external: true, now, probationUntil: past, trusted: true }).decision,
    ).toBe('auto');
    expect(
      decidePolicy({ risk: 'write', external: true, now, probationUntil: past, trusted: false }).decision,
    ).toBe('approval');
  });

  it('refuses anything external over a daily limit, with the reason', () => {
    const verdict = decidePolicy({
      risk: 'write',
      external: true,
      now,
      probationUntil: past,
      trusted: true,
      limitExceeded: 'email is limited to 2 actions a day',
    });
    expect(verdict).toEqual({ decision: 'refuse', reason: 'email is limited to 2 actions a day' });
  });

  it('offers "Always allow" only for plain writes after enough clean approvals', () => {
    for (const risk of RISK_CLASSES) {
      expect(offersAlwaysAllow({ risk, trusted: false, cleanApprovals: 5, trustAfter: 5 })).toBe(
        risk === 'write',
      );
    }
    expect(offersAlwaysAllow({ risk: 'write', trusted: false, cleanApprovals: 4, trustAfter: 5 })).toBe(
      false,
    );
    expect(offersAlwaysAllow({ risk: 'write', trusted: true, cleanApprovals: 9, trustAfter: 5 })).toBe(false);
  });
});

describe('delayed execution phrases', () => {
  it('understands "at 9:00 tomorrow", "tomorrow at 9am", "in 2 hours" in the operator time zone', () => {
    const evening = new Date('2026-03-10T20:00:00Z');
    expect(
      parseDelayedRequest('at 9:00 tomorrow, email a@b.c "x" y', evening, 'Europe/Berlin'),
    ).toMatchObject({
      notBefore: new Date('2026-03-11T08:00:00Z'),
      rest: 'email a@b.c "x" y',
    });
    expect(parseDelayedRequest('tomorrow at 9am email a@b.c "x" y', evening, 'UTC')?.notBefore).toEqual(
      new Date('2026-03-11T09:00:00Z'),
    );
    expect(parseDelayedRequest('in 2 hours email a@b.c "x" y', evening, 'UTC')?.notBefore).toEqual(
      new Date('2026-03-10T22:00:00Z'),
    );
    // A time already past today means tomorrow.
    expect(parseDelayedRequest('at 8:00 email a@b.c "x" y', evening, 'UTC')?.notBefore).toEqual(
      new Date('2026-03-11T08:00:00Z'),
    );
    expect(parseDelayedRequest('email a@b.c "at 9:00" y', evening, 'UTC')).toBeNull();
  });

  it('resolves the wall-clock time across a DST change', () => {
    // Europe/Berlin moves to summer time on 29 March 2026 at 02:00.
    const before = new Date('2026-03-28T20:00:00Z');
    expect(
      parseDelayedRequest('at 9:00 tomorrow, email a@b.c "x" y', before, 'Europe/Berlin')?.notBefore,
    ).toEqual(new Date('2026-03-29T07:00:00Z'));
  });
});

describe('connector commands and buttons', () => {
  it('parses undo, trust, untrust, cancel and connectors', () => {
    expect(parseChatCommand('undo')).toEqual({ kind: 'undo', actionId: null });
    expect(parseChatCommand('undo #12')).toEqual({ kind: 'undo', actionId: 12 });
    expect(parseChatCommand('trust')).toEqual({ kind: 'trust', grant: null });
    expect(parseChatCommand('trust crm send https://Hooks.example.com/A')).toEqual({
      kind: 'trust',
      grant: { connector: 'crm', operation: 'send', target: 'https://Hooks.example.com/A' },
    });
    expect(parseChatCommand('untrust 3')).toEqual({ kind: 'untrust', ruleId: 3 });
    expect(parseChatCommand('cancel #7')).toEqual({ kind: 'cancel', actionId: 7 });
    expect(parseChatCommand('connectors')).toEqual({ kind: 'connectors' });
    expect(parseChatCommand('undo the meeting with Dana')).toBeNull();
  });

  it('parses only well-formed buttons', () => {
    expect(parseConnectorButton('trust:allow:5')).toEqual({ kind: 'always_allow', approvalId: 5 });
    expect(parseConnectorButton('undo:9')).toEqual({ kind: 'undo', actionId: 9 });
    expect(parseConnectorButton('failure:retry:2')).toEqual({
      kind: 'failure',
      remedy: 'retry',
      failureId: 2,
    });
    expect(parseConnectorButton('failure:pay:2')).toBeNull();
    expect(parseConnectorButton('undo:9;drop')).toBeNull();
  });
});
