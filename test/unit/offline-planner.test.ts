import { describe, expect, it } from 'vitest';
import {
  type Intent,
  type PlanContext,
  parseIntent,
  planOffline,
  retrievalQuery,
} from '../../graphs/models/offline-planner.ts';
import type { MemoryPointer } from '../../memory/memory-store.ts';

const context: PlanContext = {
  operatorId: 7,
  goalId: 41,
  channel: 'console',
  requestedBy: 'console:local',
  citedMemories: [],
};

describe('offline planner grammar: remember', () => {
  it.each([
    ['remember that Dana prefers calls before 10', 'Dana prefers calls before 10'],
    ['Remember: the rent is due on the 3rd', 'the rent is due on the 3rd'],
    ['REMEMBER the sky is blue', 'the sky is blue'],
    ['please remember the wifi name is studio-5', 'the wifi name is studio-5'],
    ["don't forget that invoices go out on Fridays", 'invoices go out on Fridays'],
    ['dont forget to call the bank', 'to call the bank'],
    ['note that the lease ends in May', 'the lease ends in May'],
    ['note to self: buy stamps', 'buy stamps'],
    ['FYI, the office is closed on Monday', 'the office is closed on Monday'],
    ['fyi the printer is fixed', 'the printer is fixed'],
    ['  remember   the spare key is under the mat  ', 'the spare key is under the mat'],
  ])('%j → remember %j', (input, text) => {
    expect(parseIntent(input)).toEqual({ kind: 'remember', text });
  });

  it('keeps line breaks in what it remembers', () => {
    expect(parseIntent('remember the door code:\n1234\n5678')).toEqual({
      kind: 'remember',
      text: 'the door code:\n1234\n5678',
    });
  });

  it.each(['remember', 'remembering things is hard', 'notes are on the desk'])(
    '%j is not a remember command',
    (input) => {
      expect(parseIntent(input).kind).not.toBe('remember');
    },
  );
});

describe('offline planner grammar: recall', () => {
  it.each([
    ['recall Dana', 'Dana'],
    ['search invoices', 'invoices'],
    ['find the rent', 'the rent'],
    ['look up Dana', 'Dana'],
    ['what do you know about Dana?', 'Dana'],
    ['What do we remember about the rent?', 'the rent'],
    ['what do I know of the lease', 'the lease'],
    ['tell me about Dana', 'Dana'],
    ['remind me what you know about Dana.', 'Dana'],
    ['remind me about the studio', 'the studio'],
    ['who is Dana?!', 'Dana'],
    ['Who is   Erin ?', 'Erin'],
  ])('%j → recall %j', (input, query) => {
    expect(parseIntent(input)).toEqual({ kind: 'recall', query });
  });

  it('"recall" alone asks for nothing', () => {
    expect(parseIntent('recall')).toEqual({ kind: 'unknown' });
  });
});

describe('offline planner grammar: e-mail', () => {
  const email = (to: string, subject: string, body: string): Intent => ({ kind: 'email', to, subject, body });

  it.each([
    [
      'email dana@example.com "Tuesday" Tuesday works for me.',
      email('dana@example.com', 'Tuesday', 'Tuesday works for me.'),
    ],
    ['mail dana@example.com "Hi" there', email('dana@example.com', 'Hi', 'there')],
    ['e-mail dana@example.com "Hi" there', email('dana@example.com', 'Hi', 'there')],
    ['Email to <dana@example.com> "Hi" there', email('dana@example.com', 'Hi', 'there')],
    ['email dana@example.com, "Hi" there', email('dana@example.com', 'Hi', 'there')],
    ['email dana@example.com: "Hi": there', email('dana@example.com', 'Hi', 'there')],
    ['email dana@example.com "Hi" saying see you soon', email('dana@example.com', 'Hi', 'see you soon')],
    ['email dana@example.com about "Rent" it is paid', email('dana@example.com', 'Rent', 'it is paid')],
    [
      'email dana@example.com subject: Hello body: How are you?',
      email('dana@example.com', 'Hello', 'How are you?'),
    ],
    ['email dana@example.com Hello: How are you?', email('dana@example.com', 'Hello', 'How are you?')],
    [
      'email dana@example.com saying Tuesday works. See you then.',
      email('dana@example.com', 'Tuesday works', 'Tuesday works. See you then.'),
    ],
  ])('command form %j', (input, intent) => {
    expect(parseIntent(input)).toEqual(intent);
  });

  it.each([
    [
      'send an email to dana@example.com about Tuesday: works for me',
      email('dana@example.com', 'Tuesday', 'works for me'),
    ],
    [
      'please write an e-mail to dana@example.com "Invoice 12" It is attached.',
      email('dana@example.com', 'Invoice 12', 'It is attached.'),
    ],
    [
      'send a mail to dana@example.com regarding Invoice: please pay',
      email('dana@example.com', 'Invoice', 'please pay'),
    ],
    [
      'draft a message to dana@example.com that I am late',
      email('dana@example.com', 'I am late', 'I am late'),
    ],
  ])('natural phrasing %j', (input, intent) => {
    expect(parseIntent(input)).toEqual(intent);
  });

  it.each([
    ['curly double quotes', 'email dana@example.com “Tuesday” works for me', 'Tuesday', 'works for me'],
    ['curly single quotes', 'email dana@example.com ‘Tuesday’ works for me', 'Tuesday', 'works for me'],
    ['German quotes', 'email dana@example.com „Dienstag“ passt mir', 'Dienstag', 'passt mir'],
    ['straight single quotes', "email dana@example.com 'Tuesday' works for me", 'Tuesday', 'works for me'],
    [
      'an apostrophe inside double quotes',
      'email dana@example.com "Don\'t worry" all good',
      "Don't worry",
      'all good',
    ],
    [
      'a curly apostrophe inside curly quotes',
      'email dana@example.com “Don’t worry” all good',
      'Don’t worry',
      'all good',
    ],
    [
      'an apostrophe inside single quotes',
      "email dana@example.com 'Don't worry' all good",
      "Don't worry",
      'all good',
    ],
  ])('subject in %s', (_name, input, subject, body) => {
    expect(parseIntent(input)).toEqual(email('dana@example.com', subject, body));
  });

  it('keeps the line breaks of a multi-line body (Slack and Telegram messages have them)', () => {
    expect(parseIntent('email dana@example.com "Notes" first line\n\nsecond paragraph')).toEqual(
      email('dana@example.com', 'Notes', 'first line\n\nsecond paragraph'),
    );
  });

  it('squashes whitespace in a subject', () => {
    expect(parseIntent('email dana@example.com "Two\n  lines" body')).toEqual(
      email('dana@example.com', 'Two lines', 'body'),
    );
  });

  it.each([
    ['no address', 'email dana "Hi" body', 'I need an e-mail address first'],
    ['an address without a domain suffix', 'email dana@example "Hi" body', 'I need an e-mail address first'],
    ['only an address', 'email dana@example.com', 'I need a subject and a body: email dana@example.com'],
    ['no subject marker', 'email dana@example.com just some words', 'I need a subject and a body'],
    [
      'a subject but no body',
      'email dana@example.com "Tuesday"',
      'What should the e-mail to dana@example.com say?',
    ],
    ['a blank subject', 'email dana@example.com "   " body', 'The subject is empty'],
    ['an empty subject', 'email dana@example.com "" body', 'I need a subject and a body'],
  ])('incomplete: %s', (_name, input, problem) => {
    const intent = parseIntent(input);
    expect(intent.kind).toBe('email_incomplete');
    expect(intent.kind === 'email_incomplete' && intent.problem).toContain(problem);
  });

  it('"email" alone is not understood', () => {
    expect(parseIntent('email')).toEqual({ kind: 'unknown' });
  });
});

describe('offline planner grammar: other questions', () => {
  it.each([
    ['when does Dana prefer calls?', 'when does Dana prefer calls'],
    ['What is the weather', 'What is the weather'],
    ['is the printer fixed ?', 'is the printer fixed'],
    ['how much was the ACME invoice?!', 'how much was the ACME invoice'],
  ])('%j → question %j', (input, query) => {
    expect(parseIntent(input)).toEqual({ kind: 'question', query });
  });

  it('a bare question mark asks nothing', () => {
    expect(parseIntent(' ? ')).toEqual({ kind: 'unknown' });
  });
});

describe('offline planner grammar: anything else', () => {
  it.each(['hello there', 'pay the invoice from ACME', 'whatever works', ''])('%j is unknown', (input) => {
    expect(parseIntent(input)).toEqual({ kind: 'unknown' });
  });
});

describe('planOffline', () => {
  it('turns remember into one memory action with provenance', () => {
    expect(planOffline('remember that Dana prefers calls', context)).toEqual({
      answer: null,
      actions: [
        {
          connector: 'memory',
          operation: 'remember',
          params: {
            operatorId: 7,
            goalId: 41,
            text: 'Dana prefers calls',
            source: 'console',
            assertedBy: 'console:local',
          },
          why: 'you asked me to remember it',
        },
      ],
    });
  });

  it('answers recall from the cited memories, or says it knows nothing', () => {
    expect(planOffline('what do you know about Dana?', context)).toEqual({
      answer: 'I don\'t know anything about "Dana" yet.',
      actions: [],
    });
    const cited = { ...context, citedMemories: ['• Dana prefers calls — you told me'] };
    expect(planOffline('what do you know about Dana?', cited)).toEqual({
      answer: 'Here is what I know about "Dana":\n• Dana prefers calls — you told me',
      actions: [],
    });
  });

  it('answers another question with the memories that share its words, and only those', () => {
    const pointer = (id: number, snippet: string, layer: 'hybrid' | 'episode' = 'hybrid'): MemoryPointer => ({
      id,
      kind: layer === 'episode' ? 'episode' : 'note',
      snippet,
      source: 'console',
      sourceRef: null,
      assertedBy: 'console:local',
      occurredAt: '2026-11-20T10:00:00.000Z',
      score: 1,
      layer,
    });
    const memories = [
      pointer(1, 'Dana prefers calls on Tuesdays'),
      pointer(2, 'The printer is on the second floor'),
      pointer(3, 'Asked when Dana prefers calls', 'episode'),
      pointer(4, 'Calls with Erin run long'),
    ];
    const withMemory = {
      ...context,
      memories,
      citedMemories: [
        '• Dana prefers calls on Tuesdays — #1',
        '• The printer … — #2',
        '• Calls with Erin … — #4',
      ],
    };
    expect(planOffline('when does Dana prefer calls?', withMemory)).toEqual({
      answer:
        "Without a language model I can't answer that myself, but this is what I remember about it:\n" +
        '• Dana prefers calls on Tuesdays — #1\n• Calls with Erin … — #4',
      actions: [],
    });
    // Nearest neighbours that share no word with the question are not an answer.
    const plan = planOffline('what is the weather?', withMemory);
    expect(plan.actions).toEqual([]);
    expect(plan.answer).toContain("I didn't understand that");
    expect(planOffline('when does Dana prefer calls?', context).answer).toContain('type `help`');
  });

  it('proposes an e-mail with structured parameters and no answer', () => {
    const plan = planOffline('email dana@example.com "Tuesday" Works for me.', context);
    expect(plan.answer).toBeNull();
    expect(plan.actions).toEqual([
      {
        connector: 'email',
        operation: 'send_email',
        params: { to: 'dana@example.com', subject: 'Tuesday', body: 'Works for me.' },
        why: 'you asked me to send it',
      },
    ]);
  });

  it('proposes nothing for an incomplete e-mail and says what is missing', () => {
    expect(planOffline('email dana@example.com "Tuesday"', context)).toEqual({
      answer: 'What should the e-mail to dana@example.com say? Add the body after the subject.',
      actions: [],
    });
  });

  it('proposes nothing for an unknown message and points to help', () => {
    const plan = planOffline('pay ACME 500 euros', context);
    expect(plan.actions).toEqual([]);
    expect(plan.answer).toContain('type `help`');
  });
});

describe('retrievalQuery', () => {
  it('searches for the recall query, the remembered text, or the message', () => {
    expect(retrievalQuery('what do you know about the rent?')).toBe('the rent');
    expect(retrievalQuery('remember that rent is due')).toBe('rent is due');
    expect(retrievalQuery('email dana@example.com "Hi" x')).toBe('email dana@example.com "Hi" x');
  });
});
