import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashParams } from '../../connectors/connector-runtime.ts';

describe('hashParams', () => {
  it('is a sha256 hex digest', () => {
    expect(hashParams({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on key order, at any depth', () => {
    const a = { to: 'dana@example.com', subject: 'Hi', meta: { z: 1, a: [{ y: 2, x: 1 }] } };
    const b = { meta: { a: [{ x: 1, y: 2 }], z: 1 }, subject: 'Hi', to: 'dana@example.com' };
    expect(hashParams(a)).toBe(hashParams(b));
  });

  it('changes with any value, and with the order of array items', () => {
    const base = hashParams({ to: 'dana@example.com', tags: ['a', 'b'] });
    expect(hashParams({ to: 'erin@example.com', tags: ['a', 'b'] })).not.toBe(base);
    expect(hashParams({ to: 'dana@example.com', tags: ['b', 'a'] })).not.toBe(base);
    expect(hashParams({ to: 'dana@example.com', tags: ['a', 'b'], cc: 'x@example.com' })).not.toBe(base);
    expect(hashParams({ to: 'dana@example.com', tags: ['a', 'b', 'c'] })).not.toBe(base);
  });

  it('tells different dates apart', () => {
    expect(hashParams({ at: new Date('2026-01-01T09:00:00Z') })).not.toBe(
      hashParams({ at: new Date('2026-01-02T09:00:00Z') }),
    );
    expect(hashParams({ at: new Date('2026-01-01T09:00:00Z') })).toBe(
      hashParams({ at: '2026-01-01T09:00:00.000Z' }),
    );
  });

  it('orders keys by code point, so every process agrees whatever its locale', () => {
    const canonical = JSON.stringify({ B: 1, Z: 2, _: 3, a: 4, b: 5, å: 6 });
    const expected = createHash('sha256').update(canonical).digest('hex');
    expect(hashParams({ å: 6, b: 5, a: 4, _: 3, Z: 2, B: 1 })).toBe(expected);
  });

  it('hashes plain values too', () => {
    expect(hashParams('x')).toBe(createHash('sha256').update('"x"').digest('hex'));
    expect(hashParams(null)).toBe(createHash('sha256').update('null').digest('hex'));
  });
});
