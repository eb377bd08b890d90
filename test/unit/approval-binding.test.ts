import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConnectorsConfig } from '../../app/connectors-config.ts';
import { decisionScope, typedInCardThread } from '../../core/approval-scope.ts';
import { approvalCard, expiredCard } from '../../core/cards.ts';
import { parseChatCommand } from '../../core/commands.ts';
import type { Action, Approval } from '../../core/domain.ts';
import { DEFAULT_APPROVAL_EXPIRY, describeDuration, needsExplicitApproval } from '../../core/policy.ts';

const action = (risk: Action['risk']) =>
  ({
    id: 5,
    goalId: 2,
    risk,
    preview: {
      title: 'Pay INV-7',
      doing: 'paying',
      done: 'paid',
      fields: [{ label: 'Amount', value: '120' }],
    },
  }) as Action;

describe('approvals bound and bounded: the rules', () => {
  it('parses bare words without an id and `approve #id` with one', () => {
    for (const word of ['yes', 'ok', 'approve', 'approved', '1'])
      expect(parseChatCommand(word)).toEqual({ kind: 'decide', decision: 'approved', approvalId: null });
    for (const word of ['no', 'reject', 'deny', '2'])
      expect(parseChatCommand(word)).toEqual({ kind: 'decide', decision: 'rejected', approvalId: null });
    expect(parseChatCommand('approve #12')).toEqual({ kind: 'decide', decision: 'approved', approvalId: 12 });
    expect(parseChatCommand('yes 12')).toEqual({ kind: 'decide', decision: 'approved', approvalId: 12 });
  });

  it('needs the button or `approve #id` for money, legal and destructive actions only', () => {
    expect(
      ['read', 'write', 'money', 'legal', 'destructive'].filter((risk) =>
        needsExplicitApproval(risk as Action['risk']),
      ),
    ).toEqual(['money', 'legal', 'destructive']);
    const money = approvalCard(
      action('money'),
      { id: 9 } as Approval,
      'money actions always need your approval',
    );
    expect(money.blocks).toContainEqual({
      type: 'context',
      text: 'Press Approve or type `approve #9`: a bare “yes” does not approve money actions.',
    });
    const write = approvalCard(action('write'), { id: 9 } as Approval, 'external writes need your approval');
    expect(JSON.stringify(write.blocks)).not.toContain('bare');
  });

  it('scopes a bare word to a Slack thread, or to the whole chat on Telegram and the console', () => {
    const goal = { channel: 'slack' as const, conversation: 'C1', thread: '100.1' };
    expect(typedInCardThread({ channel: 'slack', conversation: 'C1', thread: '100.1' }, goal, [])).toBe(true);
    expect(typedInCardThread({ channel: 'slack', conversation: 'C1', thread: '200.2' }, goal, [])).toBe(
      false,
    );
    expect(typedInCardThread({ channel: 'slack', conversation: 'C2', thread: '100.1' }, goal, [])).toBe(
      false,
    );
    // A reply in the card's own thread, when the card was posted at the top of the channel.
    const topLevel = { channel: 'slack' as const, conversation: 'C1' };
    const card = { channel: 'slack' as const, conversation: 'C1', messageId: '300.3' };
    expect(
      typedInCardThread({ channel: 'slack', conversation: 'C1', thread: '300.3' }, topLevel, [card]),
    ).toBe(true);
    // Telegram's `thread` is the message a reply quotes: every message has its own.
    expect(
      decisionScope({ channel: 'telegram', conversation: '42', thread: '7' }) ===
        decisionScope({ channel: 'telegram', conversation: '42', thread: '8' }),
    ).toBe(true);
    expect(decisionScope({ channel: 'telegram', conversation: '42' })).not.toBe(
      decisionScope({ channel: 'telegram', conversation: '43' }),
    );
    expect(decisionScope({ channel: 'console', conversation: 'local' })).not.toBe(
      decisionScope({ channel: 'console', conversation: 'other' }),
    );
  });

  it('shows an expired card with no buttons and the reason', () => {
    const card = expiredCard(action('money'), { id: 9 } as Approval, { kind: 'timeout', after: '1 h' });
    expect(card.text).toBe('Expired: Pay INV-7');
    expect(card.blocks?.some((block) => block.type === 'buttons')).toBe(false);
    expect(card.blocks).toContainEqual({
      type: 'context',
      text: 'Expired: nobody decided within 1 h. Nothing was done; ask again if it is still needed.',
    });
    expect(describeDuration(DEFAULT_APPROVAL_EXPIRY.money)).toBe('1 h');
    expect(describeDuration(DEFAULT_APPROVAL_EXPIRY.write)).toBe('24 h');
    expect(describeDuration(90 * 60_000)).toBe('90 min');
    expect(describeDuration(7 * 86_400_000)).toBe('7 days');
  });

  it('defaults to 24 h (money 1 h), keeps money at 1 h under a wider default, and lists bad durations', () => {
    const write = (yaml: string) => {
      const path = join(
        tmpdir(),
        `approval-expiry-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`,
      );
      writeFileSync(path, yaml);
      return path;
    };
    expect(
      loadConnectorsConfig(write('email:\n  transport: file\n'), {}, { required: true }).approvalExpiry,
    ).toEqual(DEFAULT_APPROVAL_EXPIRY);
    const widened = loadConnectorsConfig(
      write('guardrails:\n  approvalExpiry:\n    default: 3d\n'),
      {},
      {
        required: true,
      },
    );
    expect(widened.approvalExpiry).toMatchObject({ write: 3 * 86_400_000, money: 3_600_000 });
    expect(() =>
      loadConnectorsConfig(
        write('guardrails:\n  approvalExpiry:\n    money: soon\n    legal: 0m\n'),
        {},
        {
          required: true,
        },
      ),
    ).toThrow(
      /approvalExpiry\.money.*must be a duration[\s\S]*approvalExpiry\.legal.*between 1 minute and 30 days/,
    );
  });
});
