import { describe, expect, it } from 'vitest';
import { approvalButtonAction, approvalCard, parseApprovalButton } from '../../core/cards.ts';
import type { Action, Approval } from '../../core/domain.ts';

describe('approval buttons', () => {
  it('round-trips the decision and the approval id', () => {
    expect(parseApprovalButton(approvalButtonAction('approve', 7))).toEqual({
      decision: 'approved',
      approvalId: 7,
    });
    expect(parseApprovalButton(approvalButtonAction('reject', 123456))).toEqual({
      decision: 'rejected',
      approvalId: 123456,
    });
  });

  it.each([
    '',
    'approval:approve:',
    'approval:approve:7 ',
    ' approval:approve:7',
    'approval:approve:7\n',
    'approval:approve:-1',
    'approval:approve:1e3',
    'approval:approve:0x10',
    'approval:approve:7.5',
    'approval:approve:7:8',
    'approval:approve:1234567890123456',
    'approval:maybe:7',
    'approval:approved:7',
    'APPROVAL:approve:7',
    'approval:Approve:7',
    'undo:approve:7',
    'approval:approve:７',
    '{"decision":"approve","id":7}',
  ])('rejects tampered or foreign data %j', (data) => {
    expect(parseApprovalButton(data)).toBeNull();
  });

  it('puts only the approval id behind the card buttons', () => {
    const action = {
      id: 5,
      goalId: 2,
      risk: 'write',
      preview: {
        title: 'Send an e-mail to dana@example.com',
        doing: 'sending',
        done: 'sent',
        fields: [{ label: 'To', value: 'dana@example.com' }],
      },
    } as Action;
    const approval = { id: 9 } as Approval;
    const card = approvalCard(action, approval, 'external writes need your approval');
    const buttons = card.blocks?.find((block) => block.type === 'buttons');
    expect(buttons?.type === 'buttons' && buttons.buttons.map((button) => button.action)).toEqual([
      'approval:approve:9',
      'approval:reject:9',
    ]);
    expect(card.text).toBe('Approval #9 needed: Send an e-mail to dana@example.com');
  });
});
