import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keepFirstKey } from '../../app/memory-setup.ts';

describe('the memory signing key file, shared by processes that start together', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the first key written; a later writer gets that key instead of crashing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spine-key-'));
    dirs.push(dir);
    const file = join(dir, 'signing.key');
    expect(keepFirstKey(file, 'first')).toBe('first');
    // A second process that also found no file generated its own key: it must adopt the first.
    expect(keepFirstKey(file, 'second')).toBe('first');
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['signing.key']);
  });
});
