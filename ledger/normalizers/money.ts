import { defineNormalizer } from './normalizer.ts';

const SYMBOLS: Record<string, string> = {
  '€': 'EUR',
  $: 'USD',
  '£': 'GBP',
  '¥': 'JPY',
  '₹': 'INR',
  CHF: 'CHF',
};
const WORDS: Record<string, string> = {
  euro: 'EUR',
  euros: 'EUR',
  dollar: 'USD',
  dollars: 'USD',
  pound: 'GBP',
  pounds: 'GBP',
};

/**
 * The number in an amount, whichever convention wrote it: `1.234,50`, `1,234.50`, `1 234,50`,
 * `1234.5`. With both separators the last one is the decimal mark; with one, a mark followed by
 * exactly three digits (once or more) groups thousands, otherwise it is the decimal mark.
 */
export function parseAmount(text: string): number | null {
  const compact = text.replace(/[\s\u00a0\u202f']/g, '');
  if (!/^-?\d[\d.,]*$/.test(compact)) return null;
  const lastDot = compact.lastIndexOf('.');
  const lastComma = compact.lastIndexOf(',');
  let digits: string;
  if (lastDot >= 0 && lastComma >= 0) {
    const decimal = lastDot > lastComma ? '.' : ',';
    const group = decimal === '.' ? ',' : '.';
    digits = compact.replaceAll(group, '').replace(decimal, '.');
  } else if (lastDot >= 0 || lastComma >= 0) {
    const mark = lastDot >= 0 ? '.' : ',';
    const groups = compact.split(mark);
    const thousands = groups.length > 1 && groups.slice(1).every((group) => group.length === 3);
    digits = thousands ? groups.join('') : groups.length === 2 ? groups.join('.') : '';
  } else digits = compact;
  if (!/^-?\d+(?:\.\d+)?$/.test(digits)) return null;
  const value = Number(digits);
  return Number.isFinite(value) ? value : null;
}

/**
 * Money amounts with their currency: `1.234,50 €`, `€1,234.50`, `EUR 1234.5`, `1234.50 euros` all
 * become `EUR 1234.50` (ISO 4217 code, a dot as decimal mark, two decimals, no grouping).
 */
export const moneyNormalizer = defineNormalizer({
  name: 'money',
  version: 1,
  attributes:
    /(?:^|\s)(?:amount|price|fee|rate|budget|balance|total|cost|rent|salary|invoice|invoice total|deposit)$/i,
  normalize(raw) {
    let text = raw.trim();
    let currency: string | null = null;
    const code = /(?:^([A-Z]{3})\s*)|(?:\s*([A-Z]{3})$)/.exec(text);
    if (code) {
      currency = code[1] ?? code[2] ?? null;
      text = text.replace(code[0], '');
    }
    for (const [symbol, iso] of Object.entries(SYMBOLS)) {
      if (currency) break;
      if (text.startsWith(symbol) || text.endsWith(symbol)) {
        currency = iso;
        text = text.startsWith(symbol) ? text.slice(symbol.length) : text.slice(0, -symbol.length);
      }
    }
    const word = /\s+([a-z]+)$/i.exec(text);
    if (!currency && word && WORDS[word[1]?.toLowerCase() ?? '']) {
      currency = WORDS[word[1]?.toLowerCase() ?? ''] ?? null;
      text = text.slice(0, word.index);
    }
    const amount = parseAmount(text.trim());
    if (amount === null) return null;
    const fixed = amount.toFixed(currency === 'JPY' ? 0 : 2);
    return currency ? `${currency} ${fixed}` : fixed;
  },
});
