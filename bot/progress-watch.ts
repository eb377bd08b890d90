import type { Logger } from 'pino';

export interface ProgressWatchOptions<T> {
  /** A goal slower than this shows that Spine is working. */
  delayMs: number;
  /** Show progress (post "working…", send "typing"); its result is handed to `settle`. */
  onSlow: (key: string) => Promise<T>;
  /** Repeat `onSlow` at this interval until settled (Telegram's typing lasts ~5 s). */
  repeatMs?: number;
  /** Stop showing progress after this long in any case. */
  maxMs?: number;
  logger: Logger;
}

interface Entry<T> {
  timers: NodeJS.Timeout[];
  first: Promise<T | undefined> | undefined;
}

/**
 * Shows that Spine is working on a goal that takes longer than `delayMs`, until the goal's first
 * message arrives (`settle`). Keyed by thread, so the adapter can replace a "working…" message with
 * the answer in place.
 */
export class ProgressWatch<T> {
  readonly #options: ProgressWatchOptions<T>;
  readonly #entries = new Map<string, Entry<T>>();

  constructor(options: ProgressWatchOptions<T>) {
    this.#options = options;
  }

  watch(key: string): void {
    if (this.#entries.has(key)) return;
    const entry: Entry<T> = { timers: [], first: undefined };
    const fire = () => {
      const shown = this.#options.onSlow(key).catch((error: unknown) => {
        this.#options.logger.debug({ err: String(error) }, 'could not show progress');
        return undefined;
      });
      entry.first ??= shown;
    };
    const start = setTimeout(() => {
      fire();
      if (this.#options.repeatMs) {
        const repeat = setInterval(fire, this.#options.repeatMs);
        repeat.unref();
        entry.timers.push(repeat);
      }
    }, this.#options.delayMs);
    const giveUp = setTimeout(() => this.#clear(key), this.#options.maxMs ?? 120_000);
    start.unref();
    giveUp.unref();
    entry.timers.push(start, giveUp);
    this.#entries.set(key, entry);
  }

  /** Stop showing progress for `key`; resolves to what the first `onSlow` produced, if it ran. */
  async settle(key: string): Promise<T | undefined> {
    const entry = this.#clear(key);
    return entry?.first;
  }

  stopAll(): void {
    for (const key of [...this.#entries.keys()]) this.#clear(key);
  }

  #clear(key: string): Entry<T> | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    for (const timer of entry.timers) clearTimeout(timer);
    this.#entries.delete(key);
    return entry;
  }
}
