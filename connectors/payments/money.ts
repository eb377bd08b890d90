/** Currencies Stripe counts in whole units (no cents): amounts are sent as they are. */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);

function factor(currency: string): number {
  return ZERO_DECIMAL.has(currency.toLowerCase()) ? 1 : 100;
}

/** 120.5 EUR → 12050 (Stripe's smallest unit). */
export function toMinorUnits(amount: number, currency: string): number {
  return Math.round(amount * factor(currency));
}

/** 12050 (EUR cents) → 120.5. */
export function fromMinorUnits(amount: number, currency: string): number {
  return amount / factor(currency);
}

/** 120.5, 'eur' → "120.50 EUR". */
export function formatMoney(amount: number, currency: string): string {
  const digits = factor(currency) === 1 ? 0 : 2;
  return `${amount.toFixed(digits)} ${currency.toUpperCase()}`;
}
