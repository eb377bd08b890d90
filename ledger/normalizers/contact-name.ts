import { defineNormalizer } from './normalizer.ts';

/** Particles that stay lower-case inside a name ("Ludwig van Beethoven"). */
const PARTICLES = new Set([
  'van',
  'von',
  'der',
  'den',
  'de',
  'da',
  'di',
  'du',
  'la',
  'le',
  'del',
  'dos',
  'bin',
]);

function capitalise(part: string): string {
  // O'Brien, Smith-Jones: each piece after an apostrophe or hyphen starts upper-case.
  return part
    .split(/([-'’])/)
    .map((piece) => (/^[-'’]$/.test(piece) ? piece : piece.charAt(0).toLocaleUpperCase() + piece.slice(1)))
    .join('');
}

/**
 * Contact names: whitespace collapsed, "Last, First" turned round, and words typed all lower- or
 * all upper-case capitalised (mixed case such as "McKenzie" is kept as typed).
 */
export const contactNameNormalizer = defineNormalizer({
  name: 'contact-name',
  version: 1,
  attributes: /^(?:name|full name|contact|contact name|contact person|display name)$/i,
  normalize(raw) {
    let text = raw.trim().replace(/\s+/g, ' ');
    if (text.length === 0 || /[@\d]/.test(text)) return null;
    const inverted = /^([^,]+),\s*([^,]+)$/.exec(text);
    if (inverted) text = `${inverted[2]} ${inverted[1]}`;
    return text
      .split(' ')
      .map((word, index) => {
        const lower = word.toLocaleLowerCase();
        if (index > 0 && PARTICLES.has(lower)) return lower;
        const uniform = word === lower || word === word.toLocaleUpperCase();
        return uniform ? capitalise(lower) : word;
      })
      .join(' ');
  },
});
