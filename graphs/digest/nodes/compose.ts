import { approvalButtonAction } from '../../../core/cards.ts';
import { failureButtonAction } from '../../../core/failure-card.ts';
import type { MessageBlock, OutboundMessage } from '../../../core/message.ts';
import type { DigestFacts, DigestStateType, DigestStateUpdate } from '../state.ts';

function formatDate(localDate: string): string {
  const [year, month, day] = localDate.split('-').map(Number) as [number, number, number];
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'UTC',
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(new Date(Date.UTC(year, month - 1, day)));
}

function formatWhen(iso: string, timezone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(new Date(iso));
}

function truncate(text: string, length: number): string {
  const single = text.replace(/\s+/g, ' ');
  return single.length <= length ? single : `${single.slice(0, length - 1)}…`;
}

/** Render the digest as a portable message: sections, with the buttons of what waits. */
export function composeDigest(input: {
  facts: DigestFacts;
  localDate: string;
  late: boolean;
  onDemand: boolean;
}): OutboundMessage {
  const { facts } = input;
  const blocks: MessageBlock[] = [];
  const title = input.onDemand
    ? `Your digest so far, ${facts.operatorName} (${formatDate(input.localDate)})`
    : `Good morning, ${facts.operatorName}: your digest for ${formatDate(input.localDate)}`;
  blocks.push({ type: 'section', text: title });
  if (facts.prose) blocks.push({ type: 'section', text: facts.prose });
  if (input.late) {
    blocks.push({
      type: 'context',
      text: 'Sent late: Spine was not running at digest time, so this is the catch-up.',
    });
  }

  const done = [
    ...facts.actions.map((action) => `• ${action.preview.done}`),
    ...facts.finished.map((goal) => `• goal #${goal.id}: “${truncate(goal.text, 80)}”`),
  ];
  blocks.push({
    type: 'section',
    text:
      done.length > 0
        ? `Done since ${formatWhen(facts.since, facts.timezone)}:\n${done.join('\n')}`
        : `Nothing was finished since ${formatWhen(facts.since, facts.timezone)}.`,
  });

  if (facts.pending.length === 0) {
    blocks.push({ type: 'section', text: 'Nothing is waiting for your approval.' });
  } else {
    blocks.push({ type: 'section', text: `Waiting for your approval (${facts.pending.length}):` });
    for (const line of facts.pending) {
      blocks.push({
        type: 'section',
        text: `• approval #${line.approvalId} (goal #${line.goalId}): ${line.title}`,
      });
      blocks.push({
        type: 'buttons',
        buttons: [
          { action: approvalButtonAction('approve', line.approvalId), label: 'Approve', style: 'primary' },
          { action: approvalButtonAction('reject', line.approvalId), label: 'Reject', style: 'danger' },
        ],
      });
    }
  }

  if (facts.failures.length > 0) {
    blocks.push({ type: 'section', text: `Open failures (${facts.failures.length}):` });
    for (const failure of facts.failures) {
      blocks.push({
        type: 'section',
        text: `• failure #${failure.failureId}: ${truncate(failure.message, 200)}`,
      });
      blocks.push({
        type: 'buttons',
        buttons: [
          { action: failureButtonAction('retry', failure.failureId), label: 'Retry', style: 'primary' },
          { action: failureButtonAction('dismiss', failure.failureId), label: 'Dismiss' },
        ],
      });
    }
  }

  if (facts.schedule === null) {
    blocks.push({ type: 'section', text: 'Today: no calendar is connected.' });
  } else if (facts.schedule.length === 0) {
    blocks.push({ type: 'section', text: 'Today: nothing is scheduled.' });
  } else {
    blocks.push({
      type: 'section',
      text: `Today:\n${facts.schedule
        .map((item) => `• ${item.start ?? 'all day'} ${item.title}${item.where ? ` (${item.where})` : ''}`)
        .join('\n')}`,
    });
  }

  if (facts.expiring.length > 0) {
    blocks.push({
      type: 'section',
      text: `Memories that expire soon:\n${facts.expiring
        .map(
          (memory) =>
            `• “${truncate(memory.content, 80)}” on ${formatWhen(memory.expiresAt.toISOString(), facts.timezone)}`,
        )
        .join('\n')}`,
    });
  }

  const { counts } = facts;
  blocks.push({
    type: 'fields',
    fields: [
      { label: 'Goals', value: `${counts.goals} asked, ${counts.goalsDone} done` },
      { label: 'Actions', value: String(counts.actions) },
      { label: 'Approvals', value: `${counts.approvalsDecided} decided, ${facts.pending.length} waiting` },
      { label: 'Time saved', value: `about ${facts.minutesSaved} min` },
    ],
  });
  if (facts.businessDay) blocks.push({ type: 'context', text: facts.businessDay });
  if (facts.modelUsage) blocks.push({ type: 'context', text: facts.modelUsage });

  const text = [
    title,
    input.late ? '(sent late: Spine was not running at digest time)' : '',
    `${done.length} done · ${facts.pending.length} waiting for approval · ${facts.failures.length} open failures · about ${facts.minutesSaved} min saved`,
  ]
    .filter(Boolean)
    .join('\n');
  return { text, blocks };
}

/** Turn the facts into the message. Pure. */
export function composeNode() {
  return async (state: DigestStateType): Promise<DigestStateUpdate> => {
    if (!state.facts) throw new Error('compose needs the collected facts');
    return {
      message: composeDigest({
        facts: state.facts,
        localDate: state.localDate,
        late: state.late,
        onDemand: state.digestId === null,
      }),
    };
  };
}
