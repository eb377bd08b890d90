import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileEmailTransport } from '../../connectors/email/file-transport.ts';

/**
 * The file outbox's own behaviour. It is idempotent by key (one `<key>.eml` per action), which is
 * why once-ness tests do not count its files (a repeat would leave no trace) but an SMTP sink.
 */
describe('the file outbox transport', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function outbox(): { dir: string; transport: FileEmailTransport } {
    const root = mkdtempSync(join(tmpdir(), 'spine-outbox-'));
    dirs.push(root);
    // A folder that does not exist yet, as on a fresh data directory.
    const dir = join(root, 'outbox');
    return { dir, transport: new FileEmailTransport(dir) };
  }

  it('writes one <key>.eml per key, and a repeat of the key writes nothing and says so', async () => {
    const { dir, transport } = outbox();
    const first = await transport.deliver('Subject: one\r\n\r\nfirst', 'goal-1-action-1');
    expect(first).toEqual({ location: join(dir, 'goal-1-action-1.eml'), duplicate: false });
    const repeat = await transport.deliver('Subject: one\r\n\r\nchanged', 'goal-1-action-1');
    expect(repeat).toEqual({ location: first.location, duplicate: true });
    // The first message stays: a repeat cannot be seen by counting or reading the files.
    expect(readFileSync(first.location, 'utf8')).toBe('Subject: one\r\n\r\nfirst');
    await transport.deliver('Subject: two\r\n\r\nsecond', 'goal-2-action-1');
    expect(readdirSync(dir).sort()).toEqual(['goal-1-action-1.eml', 'goal-2-action-1.eml']);
  });

  it('names the file after a key with unsafe characters replaced, and leaves no temporary file', async () => {
    const { dir, transport } = outbox();
    const { location } = await transport.deliver('Subject: x\r\n\r\ny', '../goal 3/action:1');
    expect(location).toBe(join(dir, '.._goal_3_action_1.eml'));
    expect(readdirSync(dir)).toEqual(['.._goal_3_action_1.eml']);
  });
});
