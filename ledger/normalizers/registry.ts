import { contactNameNormalizer } from './contact-name.ts';
import { dateNormalizer } from './date.ts';
import { emailNormalizer } from './email.ts';
import { moneyNormalizer } from './money.ts';
import type { Normalizer } from './normalizer.ts';

/** The built-in normalizers, in the order they are tried for an attribute. */
export function defaultNormalizers(): Normalizer[] {
  return [emailNormalizer, contactNameNormalizer, moneyNormalizer, dateNormalizer];
}

/**
 * The normalizers in use, one current version per name. Injectable: tests and the composition
 * root register their own; registering a name again replaces its current version.
 */
export class NormalizerRegistry {
  readonly #byName = new Map<string, Normalizer>();

  constructor(normalizers: Normalizer[] = defaultNormalizers()) {
    for (const normalizer of normalizers) this.register(normalizer);
  }

  /** Make `normalizer` the current version of its name. */
  register(normalizer: Normalizer): void {
    this.#byName.set(normalizer.name, normalizer);
  }

  get(name: string): Normalizer | undefined {
    return this.#byName.get(name);
  }

  list(): Normalizer[] {
    return [...this.#byName.values()];
  }

  /** The normalizer for a fact attribute, if any ("email" → email, "rent" → money). */
  forAttribute(attribute: string): Normalizer | undefined {
    const trimmed = attribute.trim();
    return this.list().find((normalizer) => normalizer.attributes.test(trimmed));
  }
}
