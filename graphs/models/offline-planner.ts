import type { ProposedAction } from '../../core/domain.ts';
import { parseDelayedRequest } from '../../core/schedule-time.ts';
import { sharesContentWord } from '../../memory/citations.ts';
import type { MemoryPointer } from '../../memory/memory-store.ts';

/** What a message asks for, as understood without a language model. */
export type Intent =
  | { kind: 'remember'; text: string }
  | { kind: 'recall'; query: string }
  | { kind: 'question'; query: string }
  | { kind: 'email'; to: string; subject: string; body: string }
  | { kind: 'email_incomplete'; problem: string }
  | { kind: 'webhook'; connector: string; payload: Record<string, unknown> }
  | { kind: 'unknown' };

// A subject in double quotes (straight, curly or „low-high“), or in single quotes closed before a space:
// an apostrophe inside ("Don't", “Don’t”) must not end the subject.
const QUOTED = /^(?:["“”„]([^"“”]+)["“”]|['‘’](.+?)['‘’](?=\s|$))\s*(.*)$/s;
const ADDRESS = /^<?([^\s<>"@]+@[^\s<>"@]+\.[^\s<>"@]+?)>?[,:]?$/;

function clean(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

function stripTrailingQuestion(text: string): string {
  return text.replace(/[?.!\s]+$/, '').trim();
}

/** Parse the e-mail forms: `email a@b "subject" body`, `email a@b subject: s body: b`, and natural phrasing. */
function parseEmail(rest: string): Intent {
  // Split off the address only: the body keeps its line breaks and spacing.
  const [, first = '', afterAddress = ''] = /^(\S+)\s*([\s\S]*)$/.exec(rest.trim()) ?? [];
  const address = ADDRESS.exec(first)?.[1];
  if (!address) {
    return {
      kind: 'email_incomplete',
      problem: 'I need an e-mail address first: email dana@example.com "Subject" Body',
    };
  }
  let remainder = afterAddress.trim();
  remainder = remainder.replace(/^(?:about|re|regarding)\s+/i, '');
  const quoted = QUOTED.exec(remainder);
  if (quoted) {
    const subject = clean(quoted[1] ?? quoted[2] ?? '');
    const body = (quoted[3] ?? '').trim().replace(/^(?:saying|that|:)\s*/i, '');
    if (!subject)
      return {
        kind: 'email_incomplete',
        problem: `The subject is empty: email ${address} "Subject" Body text`,
      };
    if (!body)
      return {
        kind: 'email_incomplete',
        problem: `What should the e-mail to ${address} say? Add the body after the subject.`,
      };
    return { kind: 'email', to: address, subject, body };
  }
  const labelled = /^subject:\s*(.+?)\s+body:\s*(.+)$/is.exec(remainder);
  if (labelled)
    return {
      kind: 'email',
      to: address,
      subject: clean(labelled[1] ?? ''),
      body: (labelled[2] ?? '').trim(),
    };
  const colon = /^([^:]{1,120}):\s*(.+)$/s.exec(remainder);
  if (colon)
    return { kind: 'email', to: address, subject: clean(colon[1] ?? ''), body: (colon[2] ?? '').trim() };
  const saying = /^(?:saying|that)\s+(.+)$/is.exec(remainder);
  if (saying) {
    const body = (saying[1] ?? '').trim();
    const subject = clean(body.split(/[.!?\n]/)[0] ?? body).slice(0, 60);
    return { kind: 'email', to: address, subject, body };
  }
  return {
    kind: 'email_incomplete',
    problem: `I need a subject and a body: email ${address} "Subject" Body text`,
  };
}

/** Understand a message with a small, documented command language and a few natural phrasings. */
export function parseIntent(input: string): Intent {
  const text = input.trim();
  const remember =
    // "note to self" first: the plain "note" form would keep "to self:" in the text.
    /^(?:fyi|note to self)[:,]?\s+(.+)$/is.exec(text) ??
    /^(?:please\s+)?(?:remember|note|don'?t forget)(?:\s+that)?\s*[:,-]?\s+(.+)$/is.exec(text);
  if (remember) return { kind: 'remember', text: (remember[1] ?? '').trim() };

  const recall =
    /^(?:recall|search|find|look up)\s+(.+)$/is.exec(text) ??
    /^what\s+do\s+(?:you|we|i)\s+(?:know|remember)\s+(?:about|of|on)\s+(.+)$/is.exec(text) ??
    /^(?:tell me|remind me)\s+(?:what you know\s+)?about\s+(.+)$/is.exec(text) ??
    /^who\s+is\s+(.+)$/is.exec(text);
  if (recall) return { kind: 'recall', query: stripTrailingQuestion(recall[1] ?? '') };

  const email =
    /^(?:e-?mail|mail)\s+(?:to\s+)?(.+)$/is.exec(text) ??
    /^(?:please\s+)?(?:send|write|draft)\s+(?:an?\s+)?(?:e-?mail|mail|message)\s+to\s+(.+)$/is.exec(text);
  if (email) return parseEmail(email[1] ?? '');

  const webhook =
    /^(?:call|trigger)\s+(?:the\s+)?(?:webhook\s+)?([a-z][a-z0-9_-]{0,39})(?:\s+webhook)?\s+(\{[\s\S]*\})$/i.exec(
      text,
    );
  if (webhook) {
    try {
      const payload: unknown = JSON.parse(webhook[2] ?? '');
      if (payload && typeof payload === 'object' && !Array.isArray(payload)) {
        return {
          kind: 'webhook',
          connector: (webhook[1] ?? '').toLowerCase(),
          payload: payload as Record<string, unknown>,
        };
      }
    } catch {
      // Not JSON: fall through to "I didn't understand".
    }
  }

  // Any other question is answered from memory, when memory holds something on its words.
  if (/\?\s*$/.test(text) || /^(?:who|what|when|where|which|whose|why|how)\b/i.test(text)) {
    const query = stripTrailingQuestion(text);
    if (query) return { kind: 'question', query };
  }

  return { kind: 'unknown' };
}

const UNKNOWN_ANSWER =
  "I didn't understand that. Without a language model I know a few commands — type `help` to see them.";

/**
 * The cited lines of the memories that share a content word with `query` (the retriever's nearest
 * neighbours can share none: those are not an answer). `cited` renders `pointers` minus episodes, in
 * order, as the plan node builds it.
 */
function memoriesOn(query: string, pointers: MemoryPointer[], cited: string[]): string[] {
  const touches = sharesContentWord(query);
  const shown = pointers.filter((pointer) => pointer.layer !== 'episode');
  return shown.flatMap((pointer, index) => (touches(pointer.snippet) && cited[index] ? [cited[index]] : []));
}

/** The planner's output: an answer to show, and/or actions to propose. */
export interface Plan {
  /** Text for the reply; the report node adds what the actions did. */
  answer: string | null;
  actions: ProposedAction[];
}

export interface PlanContext {
  operatorId: number;
  goalId: number;
  channel: 'console' | 'slack' | 'telegram' | 'web' | 'system';
  requestedBy: string;
  /** Memories the retriever found, already rendered as cited lines. */
  citedMemories: string[];
  /** Now and the operator's time zone, to understand "at 9:00 tomorrow, email …" (delayed execution). */
  now?: Date;
  timezone?: string;
  /** The same memories as pointers with their sources, for planners that must label outside content. */
  memories?: MemoryPointer[];
}

/** The offline planner: rules, no model. Keeps remember, recall and e-mail working with no tokens. */
export function planOffline(text: string, context: PlanContext): Plan {
  const delayed =
    context.now && context.timezone ? parseDelayedRequest(text, context.now, context.timezone) : null;
  if (delayed) {
    const inner = planOffline(delayed.rest, { ...context, now: undefined });
    const external = inner.actions.filter((action) => action.connector !== 'memory');
    if (external.length > 0) {
      return {
        answer: inner.answer,
        actions: inner.actions.map((action) =>
          action.connector === 'memory' ? action : { ...action, notBefore: delayed.notBefore.toISOString() },
        ),
      };
    }
  }
  const intent = parseIntent(text);
  switch (intent.kind) {
    case 'remember':
      return {
        answer: null,
        actions: [
          {
            connector: 'memory',
            operation: 'remember',
            params: {
              operatorId: context.operatorId,
              goalId: context.goalId,
              text: intent.text,
              source: context.channel,
              assertedBy: context.requestedBy,
            },
            why: 'you asked me to remember it',
          },
        ],
      };
    case 'recall':
      if (context.citedMemories.length === 0) {
        return { answer: `I don't know anything about "${intent.query}" yet.`, actions: [] };
      }
      return {
        answer: `Here is what I know about "${intent.query}":\n${context.citedMemories.join('\n')}`,
        actions: [],
      };
    case 'email':
      return {
        answer: null,
        actions: [
          {
            connector: 'email',
            operation: 'send_email',
            params: { to: intent.to, subject: intent.subject, body: intent.body },
            why: 'you asked me to send it',
          },
        ],
      };
    case 'email_incomplete':
      return { answer: intent.problem, actions: [] };
    case 'webhook':
      return {
        answer: null,
        actions: [
          {
            connector: intent.connector,
            operation: 'send',
            params: { payload: intent.payload },
            why: 'you asked me to call it',
          },
        ],
      };
    case 'question': {
      const found = memoriesOn(intent.query, context.memories ?? [], context.citedMemories);
      if (found.length === 0) return { answer: UNKNOWN_ANSWER, actions: [] };
      return {
        answer: `Without a language model I can't answer that myself, but this is what I remember about it:\n${found.join('\n')}`,
        actions: [],
      };
    }
    case 'unknown':
      return { answer: UNKNOWN_ANSWER, actions: [] };
  }
}

/** The search the retriever should run for a message: the recall query, or the message itself. */
export function retrievalQuery(text: string): string {
  const intent = parseIntent(text);
  if (intent.kind === 'recall') return intent.query;
  if (intent.kind === 'remember') return intent.text;
  return text;
}
