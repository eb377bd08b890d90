import { describe, expect, it } from 'vitest';
import { type ChatCommand, HELP_TEXT, parseChatCommand } from '../../core/commands.ts';

describe('chat command grammar', () => {
  it.each(['help', '/help', '?', 'commands', 'what can you do', 'What can you do?', '  HELP  '])(
    '%j asks for help',
    (input) => {
      expect(parseChatCommand(input)).toEqual({ kind: 'help' });
    },
  );

  it.each(['status', '/status', "what's pending?", 'whats open', "What's open"])(
    '%j asks for status',
    (input) => {
      expect(parseChatCommand(input)).toEqual({ kind: 'status' });
    },
  );

  it.each([
    ['log', 30],
    ['/log', 30],
    ['story', 30],
    ['history 12', 12],
    ['log 5', 5],
    ['log 9999', 9999],
  ])('%j asks for the log (limit %i)', (input, limit) => {
    expect(parseChatCommand(input)).toMatchObject({ kind: 'log', limit });
  });

  it.each([
    ['log goal 41', 'goal 41'],
    ['log connector email', 'connector email'],
    ['Log since yesterday until today', 'since yesterday until today'],
    ['log "Dana"', '"Dana"'],
    ['log page 2', 'page 2'],
    ['log verify', 'verify'],
  ])('%j asks for the log with filters %j', (input, args) => {
    expect(parseChatCommand(input)).toMatchObject({ kind: 'log', args });
  });

  it.each([
    ['goal 41', 41],
    ['goal #41', 41],
    ['/Goal #7', 7],
  ])('%j asks for the forensics of goal %i', (input, goalId) => {
    expect(parseChatCommand(input)).toEqual({ kind: 'goal', goalId });
  });

  it('leaves "goal: more clients" to the planner', () => {
    expect(parseChatCommand('goal: more clients')).toBeNull();
  });

  it('leaves "log the call with Dana" to the planner', () => {
    expect(parseChatCommand('log the call with Dana')).toBeNull();
  });

  it.each(['log 12345', 'log five', 'log -3'])('%j is not a log command', (input) => {
    expect(parseChatCommand(input)).toBeNull();
  });

  it.each<[string, ChatCommand]>([
    ['approve', { kind: 'decide', decision: 'approved', approvalId: null }],
    ['approved', { kind: 'decide', decision: 'approved', approvalId: null }],
    ['yes', { kind: 'decide', decision: 'approved', approvalId: null }],
    ['OK', { kind: 'decide', decision: 'approved', approvalId: null }],
    ['1', { kind: 'decide', decision: 'approved', approvalId: null }],
    ['Approve #3', { kind: 'decide', decision: 'approved', approvalId: 3 }],
    ['approve 12', { kind: 'decide', decision: 'approved', approvalId: 12 }],
    ['reject', { kind: 'decide', decision: 'rejected', approvalId: null }],
    ['rejected', { kind: 'decide', decision: 'rejected', approvalId: null }],
    ['no', { kind: 'decide', decision: 'rejected', approvalId: null }],
    ['deny #9', { kind: 'decide', decision: 'rejected', approvalId: 9 }],
    ['2', { kind: 'decide', decision: 'rejected', approvalId: null }],
    ['/reject 4', { kind: 'decide', decision: 'rejected', approvalId: 4 }],
  ])('%j decides an approval', (input, command) => {
    expect(parseChatCommand(input)).toEqual(command);
  });

  it.each([
    '3',
    'approve me',
    'approve the invoice',
    'yes please send it to everyone',
    'hello',
    'remember that help is on the way',
    'email dana@example.com "status" ok',
  ])('%j is not a command (it becomes a goal)', (input) => {
    expect(parseChatCommand(input)).toBeNull();
  });

  it('the help text names every command the grammar knows', () => {
    for (const word of ['remember', 'recall', 'email', 'approve / reject', 'status', 'log [n]', 'help']) {
      expect(HELP_TEXT).toContain(word);
    }
  });
});
