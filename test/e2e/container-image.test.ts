import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * What the Dockerfile's runtime stage copies from the build context (`COPY <paths…> <dest>`, not
 * `--from`). No Docker engine runs here, so the test rebuilds that file tree by hand.
 */
function runtimeCopies(dockerfile: string): string[] {
  const stages = dockerfile.split(/^FROM\s/m);
  const runtime = stages.at(-1) ?? '';
  return runtime
    .split('\n')
    .filter((line) => /^COPY\s/.test(line) && !/--from=/.test(line))
    .flatMap((line) => line.trim().split(/\s+/).slice(1, -1));
}

describe('the container image', () => {
  const image = mkdtempSync(join(tmpdir(), 'spine-image-'));
  afterAll(() => rmSync(image, { recursive: true, force: true }));

  it('holds every file Spine needs: the copied tree starts, migrates and lists its commands', async () => {
    const copies = runtimeCopies(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(copies).toContain('app');
    for (const path of copies) cpSync(join(ROOT, path), join(image, path), { recursive: true });
    // The deps stage installs node_modules; the test reuses the checkout's.
    symlinkSync(join(ROOT, 'node_modules'), join(image, 'node_modules'), 'dir');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: image,
      SPINE_DATA_DIR: join(image, 'data'),
      LOG_LEVEL: 'error',
    };
    // `help` loads the whole program (the CLI imports every layer); `migrate` reads the SQL files.
    const help = await run(process.execPath, ['bin/spine.js', 'help'], { cwd: image, env });
    expect(help.stdout).toMatch(/Usage: spine <command>[\s\S]*start/);
    const migrate = await run(process.execPath, ['bin/spine.js', 'migrate'], {
      cwd: image,
      env,
      timeout: 120_000,
    });
    expect(`${migrate.stdout}${migrate.stderr}`).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
  }, 180_000);
});
