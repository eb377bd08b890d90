import type { DigestGraphDeps } from '../deps.ts';
import type { DigestStateType, DigestStateUpdate } from '../state.ts';

/** Post the digest in the operator's thread, then mark the daily row sent and tell the story. */
export function deliverNode(deps: DigestGraphDeps) {
  return async (state: DigestStateType): Promise<DigestStateUpdate> => {
    if (!state.message || !state.facts) throw new Error('deliver needs the composed message');
    const thread = state.thread ?? (await homeThread(deps, state.operatorId));
    // Posted, then marked: a crash in between re-posts on retry rather than losing the digest.
    const ref = await deps.chat.post(thread, state.message);
    const sentAt = deps.clock.now();
    if (state.digestId !== null) {
      await deps.repos.digests.markSent({
        id: state.digestId,
        since: new Date(state.facts.since),
        sentAt,
        ref,
        summary: {
          done: state.facts.actions.length + state.facts.finished.length,
          pending: state.facts.pending.length,
          failures: state.facts.failures.length,
          minutesSaved: state.facts.minutesSaved,
        },
      });
    }
    await deps.repos.events.append({
      operatorId: state.operatorId,
      actor: 'spine',
      verb: 'sent you',
      object: state.digestId === null ? 'a digest on request' : `the digest for ${state.localDate}`,
      why: state.late ? 'it was missed while Spine was not running' : null,
      ref: state.digestId === null ? null : `digest #${state.digestId}`,
      channel: thread.channel,
    });
    return { messageId: ref.messageId };
  };
}

/** Where an operator hears from Spine unprompted: the thread of their latest goal, else the console. */
async function homeThread(deps: DigestGraphDeps, operatorId: number) {
  const [latest] = await deps.repos.goals.recent(operatorId, 1);
  return latest
    ? { channel: latest.thread.channel, conversation: latest.thread.conversation }
    : {
        channel: 'console' as const,
        conversation: 'local',
      };
}
