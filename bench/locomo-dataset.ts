import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ConversationTurn } from '../memory/conversation-ingest.ts';
import { MONTHS } from '../memory/time-window.ts';

/** One LoCoMo-format conversation: its turns (only the turns) and its scored questions. */
export interface LocomoConversation {
  id: string;
  turns: ConversationTurn[];
  questions: Array<{ question: string; evidence: string[]; category: number }>;
}

/** "1:56 pm on 8 May, 2023" → a UTC date. */
export function parseSessionDate(text: string): Date {
  const match = /(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})/i.exec(text);
  if (!match) {
    const fallback = new Date(text);
    if (Number.isNaN(fallback.getTime())) throw new Error(`cannot read the session date "${text}"`);
    return fallback;
  }
  let hour = Number(match[1]) % 12;
  if (match[3]!.toLowerCase() === 'pm') hour += 12;
  const month = MONTHS.findIndex((name) => name.startsWith(match[5]!.toLowerCase().slice(0, 3)));
  return new Date(Date.UTC(Number(match[6]), month, Number(match[4]), hour, Number(match[2])));
}

/** Read one conversation file, keeping only the turns (never observations, summaries or events). */
export function readConversation(file: string): LocomoConversation {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const data = (raw.conversation as Record<string, unknown> | undefined) ?? raw;
  const turns: ConversationTurn[] = [];
  const sessions = Object.keys(data)
    .map((key) => /^session_(\d+)$/.exec(key)?.[1])
    .filter((value): value is string => value !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  for (const session of sessions) {
    const date = parseSessionDate(String(data[`session_${session}_date_time`] ?? ''));
    const list = data[`session_${session}`] as Array<Record<string, unknown>>;
    list.forEach((turn, index) => {
      turns.push({
        id: String(turn.dia_id),
        speaker: String(turn.speaker),
        text: String(turn.text ?? ''),
        imageCaption: typeof turn.blip_caption === 'string' ? turn.blip_caption : undefined,
        // Turns keep their order within a session: one second apart.
        at: new Date(date.getTime() + index * 1000),
      });
    });
  }
  const qa = (raw.qa as Array<Record<string, unknown>> | undefined) ?? [];
  const questions = qa
    .map((item) => ({
      question: String(item.question ?? ''),
      category: Number(item.category),
      evidence: ((item.evidence as string[] | undefined) ?? [])
        .flatMap((entry) => String(entry).split(/[;,\s]+/))
        .map((entry) => entry.trim())
        .filter((entry) => /^D\d+:\d+$/.test(entry)),
    }))
    .filter((item) => item.category >= 1 && item.category <= 4 && item.evidence.length > 0);
  return { id: String(raw.sample_id ?? basename(file, '.json')), turns, questions };
}

/** A file, or every *.json in a directory, in name order. */
export function readDataset(path: string): LocomoConversation[] {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((file) => file.endsWith('.json'))
        .sort()
        .map((file) => join(path, file))
    : [path];
  return files.map(readConversation);
}
