import { approvalCard } from '../../core/cards.ts';
import type { Repositories } from '../../db/repositories/index.ts';
import { escapeMrkdwn, renderForSlack, type SlackBlock } from './render-block-kit.ts';

/**
 * The App Home tab: the approvals waiting for the operator (live cards with buttons) and the most
 * recent goals. A stranger sees only who Spine works for.
 */
export async function appHomeView(
  repos: Repositories,
  operatorId: number | null,
): Promise<{ type: 'home'; blocks: SlackBlock[] }> {
  if (operatorId === null) {
    return {
      type: 'home',
      blocks: [section('Spine works for its operator only, so there is nothing to show you here.')],
    };
  }
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: 'Spine' } }];
  const pending = await repos.approvals.listPending(operatorId);
  blocks.push(
    section(
      pending.length === 0
        ? '*Nothing is waiting for your approval.*'
        : `*Waiting for your approval (${pending.length})*`,
    ),
  );
  // Block Kit allows 100 blocks in a home view: show the newest approvals first, a handful of them.
  for (const approval of pending.slice(-8).reverse()) {
    const action = await repos.actions.get(approval.actionId);
    if (!action) continue;
    blocks.push(...renderForSlack(approvalCard(action, approval, 'waiting for you')).blocks, {
      type: 'divider',
    });
  }
  const recent = await repos.goals.recent(operatorId, 10);
  blocks.push(
    section(
      recent.length === 0 ? '*No goals yet.* Send me a direct message to start one.' : '*Recent goals*',
    ),
  );
  for (const goal of recent) {
    const text = goal.text.length > 120 ? `${goal.text.slice(0, 119)}…` : goal.text;
    blocks.push({
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: `#${goal.id} · ${goal.status.replace('_', ' ')} · ${escapeMrkdwn(text)}` },
      ],
    });
  }
  return { type: 'home', blocks };
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}
