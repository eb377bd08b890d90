/** What a secret is replaced with wherever it would be shown. */
export const SECRET_MASK = '••••';

/**
 * Values shorter than this are not redacted by value: replacing every "abc" in a log line would
 * garble it while hiding nothing a guess would not find. Secrets Spine checks are longer (16+).
 */
export const MIN_REDACTED_LENGTH = 6;

/**
 * Replaces every occurrence of known secret values in text, whatever key or sentence carries them:
 * the value itself, its JSON-escaped form (inside a JSON log line) and its URL-encoded form (inside
 * a logged URL). Key-name redaction alone misses `{"msg":"calling https://…?token=<secret>"}`.
 *
 * @example new SecretRedactor(['sk_live_abc123']).redact('key=sk_live_abc123') // "key=••••"
 */
export class SecretRedactor {
  /** Longest first, so a secret that contains another is replaced whole. */
  readonly #needles: string[];

  constructor(
    secrets: Iterable<string | undefined | null>,
    readonly mask = SECRET_MASK,
  ) {
    const needles = new Set<string>();
    for (const secret of secrets) {
      if (!secret || secret.length < MIN_REDACTED_LENGTH) continue;
      needles.add(secret);
      needles.add(JSON.stringify(secret).slice(1, -1));
      needles.add(encodeURIComponent(secret));
    }
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  /** Whether there is anything to redact. */
  get empty(): boolean {
    return this.#needles.length === 0;
  }

  /** The text with every known secret replaced by the mask. */
  redact(text: string): string {
    let out = text;
    for (const needle of this.#needles) if (out.includes(needle)) out = out.split(needle).join(this.mask);
    return out;
  }

  /** A copy of a JSON-like value with every string redacted (keys too). */
  redactDeep<T>(value: T): T {
    if (this.empty) return value;
    return this.#deep(value) as T;
  }

  #deep(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((item) => this.#deep(item));
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(
        Object.entries(value).map(([key, inner]) => [this.redact(key), this.#deep(inner)]),
      );
    }
    return value;
  }
}

/**
 * The secret values of configured HTTP headers: every value (no header name is reliably harmless),
 * and the credential alone of `Bearer <token>` / `Basic <…>`, which code often logs without its scheme.
 */
export function headerSecrets(headers: Record<string, string>): string[] {
  return Object.values(headers).flatMap((value) => {
    const credential = /^[A-Za-z][\w-]*\s+(\S+)$/.exec(value.trim())?.[1];
    return credential ? [value, credential] : [value];
  });
}

/** A URL's password and query values (`?token=…`): a credential as often as not, so masked too. */
export function urlSecrets(url: string): string[] {
  try {
    const parsed = new URL(url);
    return [decodeURIComponent(parsed.password), ...parsed.searchParams.values()].filter(Boolean);
  } catch {
    return [];
  }
}
