/** A fact stated in plain words: subject, attribute and value. */
export interface ParsedFact {
  subject: string;
  attribute: string;
  value: string;
}

function tidy(text: string): string {
  return text
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/[.!]+$/, '');
}

/**
 * Recognise "<subject>'s <attribute> is <value>" and "the <attribute> of <subject> is <value>", the
 * two shapes that name an attribute unambiguously. Anything else stays a plain fact without a key.
 */
export function parseFact(text: string): ParsedFact | null {
  const possessive =
    /^(?:the\s+)?([\p{L}\p{N}][\p{L}\p{N} &.-]{0,60}?)['’]s\s+([\p{L}\p{N} -]{1,60}?)\s+(?:is|are|=)\s+(.+)$/isu.exec(
      text.trim(),
    );
  if (possessive)
    return { subject: tidy(possessive[1]!), attribute: tidy(possessive[2]!), value: tidy(possessive[3]!) };
  const of =
    /^(?:the|our|my)\s+([\p{L}\p{N} -]{1,60}?)\s+(?:of|for)\s+([\p{L}\p{N}][\p{L}\p{N} &.-]{0,60}?)\s+(?:is|are|=)\s+(.+)$/isu.exec(
      text.trim(),
    );
  if (of) return { subject: tidy(of[2]!), attribute: tidy(of[1]!), value: tidy(of[3]!) };
  return null;
}
