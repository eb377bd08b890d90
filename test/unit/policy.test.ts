import { describe, expect, it } from 'vitest';
import { RISK_CLASSES, type RiskClass } from '../../core/domain.ts';
import { decidePolicy, type PolicyInput } from '../../core/policy.ts';

const now = new Date('2026-03-01T12:00:00Z');
const inProbation = new Date('2026-03-31T00:00:00Z');
const probationOver = new Date('2026-02-01T00:00:00Z');

function decide(risk: RiskClass, overrides: Partial<PolicyInput> = {}) {
  return decidePolicy({ risk, external: true, now, probationUntil: probationOver, ...overrides });
}

describe('policy decisions', () => {
  it.each(RISK_CLASSES)("Spine's own bookkeeping runs on its own whatever the risk (%s)", (risk) => {
    expect(decide(risk, { external: false, probationUntil: inProbation })).toEqual({
      decision: 'auto',
      reason: "Spine's own bookkeeping",
    });
  });

  it('reading runs on its own, even in probation', () => {
    expect(decide('read', { probationUntil: inProbation }).decision).toBe('auto');
    expect(decide('read', { probationUntil: null }).decision).toBe('auto');
  });

  it.each<RiskClass>(['money', 'legal', 'destructive'])(
    '%s always needs approval, even trusted and after probation',
    (risk) => {
      expect(decide(risk, { trusted: true })).toEqual({
        decision: 'approval',
        reason: `${risk} actions always need your approval`,
      });
    },
  );

  it('an external write needs approval during probation, even when trusted', () => {
    expect(decide('write', { probationUntil: inProbation, trusted: true })).toEqual({
      decision: 'approval',
      reason: 'external writes need your approval during probation',
    });
  });

  it('no probation date counts as probation (the safe default)', () => {
    expect(decide('write', { probationUntil: null, trusted: true }).decision).toBe('approval');
  });

  it('probation ends exactly at its instant', () => {
    const edge = new Date(now);
    expect(decide('write', { probationUntil: edge, trusted: true }).decision).toBe('auto');
    const oneMsLater = new Date(now.getTime() + 1);
    expect(decide('write', { probationUntil: oneMsLater, trusted: true }).decision).toBe('approval');
  });

  it('after probation an external write still needs approval unless the operator trusted it', () => {
    expect(decide('write')).toEqual({ decision: 'approval', reason: 'external writes need your approval' });
    expect(decide('write', { trusted: false }).decision).toBe('approval');
    expect(decide('write', { trusted: true })).toEqual({
      decision: 'auto',
      reason: 'you chose "always allow" for this',
    });
  });
});
