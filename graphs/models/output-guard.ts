/** What the output guard removed from a model's text. */
export interface GuardedText {
  text: string;
  redactedSecrets: number;
  leakedPrompt: boolean;
}

const MIN_PROMPT_FRAGMENT = 40;
const PROMPT_REFUSAL = "I can't share my instructions or configuration.";

function normalise(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

/**
 * Keeps secrets and the system prompt out of chat, whatever the model was tricked into writing:
 * every configured secret is replaced by `[redacted]`, and text that recites a line of the system
 * prompt is replaced by a refusal. Applied to the answer and to every proposed action's parameters.
 */
export class OutputGuard {
  readonly #secrets: string[];
  readonly #promptLines: string[];

  constructor(options: { secrets: readonly string[]; systemPrompts: readonly string[] }) {
    // Short values would redact ordinary words; real keys and tokens are long.
    this.#secrets = [...new Set(options.secrets.filter((secret) => secret.length >= 8))].sort(
      (a, b) => b.length - a.length,
    );
    this.#promptLines = options.systemPrompts
      .flatMap((prompt) => prompt.split('\n'))
      .map(normalise)
      .flatMap((line) => fragments(line))
      .filter((line) => line.length >= MIN_PROMPT_FRAGMENT);
  }

  /** True when the text contains a secret or recites the system prompt. */
  leaks(text: string): boolean {
    return this.#containsSecret(text) || this.#recitesPrompt(text);
  }

  guard(text: string): GuardedText {
    if (this.#recitesPrompt(text)) return { text: PROMPT_REFUSAL, redactedSecrets: 0, leakedPrompt: true };
    let redacted = 0;
    let out = text;
    for (const secret of this.#secrets) {
      const parts = out.split(secret);
      redacted += parts.length - 1;
      out = parts.join('[redacted]');
    }
    return { text: out, redactedSecrets: redacted, leakedPrompt: false };
  }

  #containsSecret(text: string): boolean {
    return this.#secrets.some((secret) => text.includes(secret));
  }

  #recitesPrompt(text: string): boolean {
    const flat = normalise(text);
    return this.#promptLines.some((line) => flat.includes(line));
  }
}

/** A long prompt line and its halves, so a partial recital is caught too. */
function fragments(line: string): string[] {
  if (line.length < MIN_PROMPT_FRAGMENT * 2) return [line];
  const middle = Math.floor(line.length / 2);
  return [line, line.slice(0, middle).trim(), line.slice(middle).trim()];
}
