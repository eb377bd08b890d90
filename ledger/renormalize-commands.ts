import type { Clock } from '../core/clock.ts';
import type { Channel, ThreadRef } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import type { Queryable } from '../db/database.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';
import type { NormalizerRegistry } from './normalizers/registry.ts';
import { applyRenormalize, planRenormalize, renderPlan } from './renormalize.ts';

/** `renormalize email` (the dry-run diff with a Confirm button) and `renormalize email confirm`. */
export type RenormalizeCommand = { name: string; confirm: boolean; version?: number };

export function parseRenormalizeCommand(input: string): RenormalizeCommand | null {
  const match = /^\/?renormali[sz]e\s+([a-z][a-z0-9-]{0,40})(\s+(?:confirm|apply))?$/i.exec(input.trim());
  if (!match) return null;
  return { name: (match[1] ?? '').toLowerCase(), confirm: Boolean(match[2]) };
}

/** The Confirm button carries the normalizer and the version the diff was computed with. */
export function renormalizeButtonAction(name: string, version: number): string {
  return `renormalize:apply:${name}:${version}`;
}

export function parseRenormalizeButton(action: string): RenormalizeCommand | null {
  const match = /^renormalize:apply:([a-z][a-z0-9-]{0,40}):(\d{1,9})$/.exec(action);
  return match ? { name: match[1] ?? '', confirm: true, version: Number(match[2]) } : null;
}

export interface RenormalizeCommandsDeps {
  db: Queryable;
  memory: PgvectorMemoryStore;
  registry: NormalizerRegistry;
  clock: Clock;
  chat: ChatSender;
}

/** The chat form of `spine renormalize`: the diff first, applied only after Confirm. */
export class RenormalizeCommands {
  readonly #deps: RenormalizeCommandsDeps;

  constructor(deps: RenormalizeCommandsDeps) {
    this.#deps = deps;
  }

  /** One at a time in this process: a double tap on Confirm plans the second after the first applied. */
  #queue: Promise<void> = Promise.resolve();

  handle(
    command: RenormalizeCommand,
    actor: { operatorId: number; channel: Channel; thread?: ThreadRef | undefined },
  ): Promise<void> {
    const run = this.#queue.then(() => this.#handle(command, actor));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #handle(
    command: RenormalizeCommand,
    actor: { operatorId: number; channel: Channel; thread?: ThreadRef | undefined },
  ): Promise<void> {
    const reply = async (message: OutboundMessage) => {
      if (actor.thread) await this.#deps.chat.post(actor.thread, message);
    };
    let plan: Awaited<ReturnType<typeof planRenormalize>>;
    try {
      plan = await planRenormalize(this.#deps, command.name, actor.operatorId);
    } catch (error) {
      if (error instanceof SpineError && error.category === 'user') {
        await reply({ text: error.message });
        return;
      }
      throw error;
    }
    if (command.version !== undefined && command.version !== plan.version) {
      await reply({
        text: `The ${plan.normalizer} normalizer changed since that diff (now v${plan.version}); say \`renormalize ${plan.normalizer}\` to see the new one.`,
      });
      return;
    }
    if (plan.changes.length === 0) {
      await reply({ text: renderPlan(plan) });
      return;
    }
    if (!command.confirm) {
      const text = renderPlan(plan);
      await reply({
        text: `${text}\nConfirm to write them as new fact versions (the old values stay in history).`,
        blocks: [
          { type: 'section', text },
          {
            type: 'context',
            text: 'Nothing changes until you confirm; the old values stay in each fact’s history.',
          },
          {
            type: 'buttons',
            buttons: [
              {
                action: renormalizeButtonAction(plan.normalizer, plan.version),
                label: 'Confirm',
                style: 'primary',
              },
            ],
          },
        ],
      });
      return;
    }
    const applied = await applyRenormalize(this.#deps, plan, 'operator');
    await reply({
      text: `Renormalized ${applied.length} fact${applied.length === 1 ? '' : 's'} with ${plan.normalizer} v${plan.version}; the old values stay in history.`,
    });
  }
}

export const RENORMALIZE_HELP =
  '• renormalize <normalizer> — replay a normalizer (email, contact-name, money, date) over past facts: the diff, then Confirm';
