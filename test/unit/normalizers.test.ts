import { describe, expect, it } from 'vitest';
import { contactNameNormalizer } from '../../ledger/normalizers/contact-name.ts';
import { dateNormalizer } from '../../ledger/normalizers/date.ts';
import { emailNormalizer } from '../../ledger/normalizers/email.ts';
import { moneyNormalizer, parseAmount } from '../../ledger/normalizers/money.ts';
import { withValue } from '../../ledger/normalizers/normalizing-memory-store.ts';
import { NormalizerRegistry } from '../../ledger/normalizers/registry.ts';

describe('normalizers', () => {
  it('e-mail addresses: trimmed, without mailto: or a display name, lower-cased', () => {
    expect(emailNormalizer.normalize('  Dana.Scully@Example.COM ')).toBe('dana.scully@example.com');
    expect(emailNormalizer.normalize('mailto:FOX@fbi.gov')).toBe('fox@fbi.gov');
    expect(emailNormalizer.normalize('Dana Scully <Dana@Example.com>')).toBe('dana@example.com');
    expect(emailNormalizer.normalize('dana at example dot com')).toBeNull();
  });

  it('contact names: whitespace, "Last, First", and all-lower or all-upper words', () => {
    expect(contactNameNormalizer.normalize('  dana   scully ')).toBe('Dana Scully');
    expect(contactNameNormalizer.normalize('SCULLY, DANA')).toBe('Dana Scully');
    expect(contactNameNormalizer.normalize("o'brien-smith")).toBe("O'Brien-Smith");
    expect(contactNameNormalizer.normalize('ludwig van beethoven')).toBe('Ludwig van Beethoven');
    expect(contactNameNormalizer.normalize('Angus McKenzie')).toBe('Angus McKenzie');
    expect(contactNameNormalizer.normalize('dana@example.com')).toBeNull();
  });

  it('money: either decimal convention, the currency as an ISO code', () => {
    expect(moneyNormalizer.normalize('1.234,50 €')).toBe('EUR 1234.50');
    expect(moneyNormalizer.normalize('€1,234.50')).toBe('EUR 1234.50');
    expect(moneyNormalizer.normalize('EUR 1234.5')).toBe('EUR 1234.50');
    expect(moneyNormalizer.normalize('1 234,50 EUR')).toBe('EUR 1234.50');
    expect(moneyNormalizer.normalize('$12')).toBe('USD 12.00');
    expect(moneyNormalizer.normalize('900 euros')).toBe('EUR 900.00');
    expect(moneyNormalizer.normalize('12,5')).toBe('12.50');
    expect(moneyNormalizer.normalize('900 a month')).toBeNull();
    expect(parseAmount('1.234.567')).toBe(1234567);
    expect(parseAmount('1,2,3')).toBeNull();
  });

  it('dates: ISO 8601 from the usual spellings, impossible dates refused', () => {
    expect(dateNormalizer.normalize('2026-11-25')).toBe('2026-11-25');
    expect(dateNormalizer.normalize('25.11.2026')).toBe('2026-11-25');
    expect(dateNormalizer.normalize('25/11/26')).toBe('2026-11-25');
    expect(dateNormalizer.normalize('11/25/2026')).toBe('2026-11-25');
    expect(dateNormalizer.normalize('25th November 2026')).toBe('2026-11-25');
    expect(dateNormalizer.normalize('Nov 25, 2026')).toBe('2026-11-25');
    expect(dateNormalizer.normalize('31.02.2026')).toBeNull();
    expect(dateNormalizer.normalize('next tuesday')).toBeNull();
  });

  it('the registry picks a normalizer by attribute; registering a name again replaces its version', () => {
    const registry = new NormalizerRegistry();
    expect(registry.forAttribute('email')?.name).toBe('email');
    expect(registry.forAttribute('E-mail address')?.name).toBe('email');
    expect(registry.forAttribute('rent')?.name).toBe('money');
    expect(registry.forAttribute('invoice total')?.name).toBe('money');
    expect(registry.forAttribute('birthday')?.name).toBe('date');
    expect(registry.forAttribute('name')?.name).toBe('contact-name');
    expect(registry.forAttribute('phone')).toBeUndefined();
    registry.register({ ...emailNormalizer, version: 2 });
    expect(registry.get('email')?.version).toBe(2);
    expect(registry.list()).toHaveLength(4);
  });

  it('rewrites the value at the end of the sentence, or writes the canonical sentence', () => {
    const fact = { subject: 'Dana', attribute: 'email' };
    expect(withValue("Dana's email is  DANA@X.COM.", fact, 'DANA@X.COM', 'dana@x.com')).toBe(
      "Dana's email is dana@x.com",
    );
    expect(withValue('something else', fact, 'DANA@X.COM', 'dana@x.com')).toBe("Dana's email is dana@x.com");
  });
});
