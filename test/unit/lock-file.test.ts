import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpineError } from '../../core/errors.ts';
import { LockFile } from '../../db/lock-file.ts';

/** A pid that no process has any more: a child that already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
  expect(child.status).toBe(0);
  return child.pid;
}

function refusal(path: string): SpineError {
  try {
    LockFile.acquire(path, 'the embedded database in /somewhere').release();
  } catch (error) {
    expect(error).toBeInstanceOf(SpineError);
    return error as SpineError;
  }
  throw new Error('expected the lock to be refused');
}

describe('LockFile', () => {
  const dirs: string[] = [];
  const locks: LockFile[] = [];
  function lockPath(): string {
    const dir = mkdtempSync(join(tmpdir(), 'spine-lock-'));
    dirs.push(dir);
    return join(dir, 'spine.lock');
  }
  afterEach(() => {
    for (const lock of locks.splice(0)) lock.release();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('writes this process id into the lock, and release removes it', () => {
    const path = lockPath();
    const lock = LockFile.acquire(path, 'the embedded database');
    locks.push(lock);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
    expect(existsSync(path)).toBe(false);
    // Releasing twice is harmless.
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a live holder with db.locked, naming its pid and what to do', () => {
    const path = lockPath();
    const holder = process.ppid;
    writeFileSync(path, `${holder}\n`);
    const error = refusal(path);
    expect(error.code).toBe('db.locked');
    expect(error.category).toBe('user');
    expect(error.details).toMatchObject({ pid: holder, lockFile: path });
    expect(error.message).toContain(
      `Another Spine process (pid ${holder}) is using the embedded database in /somewhere`,
    );
    expect(error.message).toContain('set DATABASE_URL');
    // The holder's lock is left alone.
    expect(readFileSync(path, 'utf8')).toBe(`${holder}\n`);
  });

  it('refuses a second lock in the same process (a second open would corrupt the data just the same)', () => {
    const path = lockPath();
    locks.push(LockFile.acquire(path, 'the embedded database'));
    const error = refusal(path);
    expect(error.code).toBe('db.locked');
    expect(error.details.pid).toBe(process.pid);
  });

  it('takes over a stale lock left by a process that is gone', () => {
    const path = lockPath();
    writeFileSync(path, `${deadPid()}\n`);
    locks.push(LockFile.acquire(path, 'the embedded database'));
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
  });

  it('takes over a lock file with no pid in it', () => {
    const path = lockPath();
    writeFileSync(path, 'garbage');
    locks.push(LockFile.acquire(path, 'the embedded database'));
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
  });

  it('does not remove a lock another process took over since', () => {
    const path = lockPath();
    const lock = LockFile.acquire(path, 'the embedded database');
    writeFileSync(path, `${process.ppid}\n`);
    lock.release();
    expect(readFileSync(path, 'utf8')).toBe(`${process.ppid}\n`);
  });
});
