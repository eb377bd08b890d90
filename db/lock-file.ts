import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { SpineError } from '../core/errors.ts';

/** True when a process with this pid exists (signal 0 checks without signalling). */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock on the embedded database's data directory. PGlite has no lock of its own and
 * two processes writing one data directory corrupt it, so the second owner must be refused.
 * A lock left by a process that no longer runs (kill -9, power loss) is taken over.
 */
export class LockFile {
  readonly #path: string;
  #held = false;

  private constructor(path: string) {
    this.#path = path;
  }

  /** Take the lock or throw `db.locked` naming the process that holds it. */
  static acquire(path: string, what: string): LockFile {
    const lock = new LockFile(path);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        lock.#held = true;
        process.once('exit', () => lock.release());
        return lock;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
        // This very process counts too: a second open of the same directory would corrupt it just the same.
        if (Number.isInteger(holder) && (holder === process.pid || processIsAlive(holder))) {
          throw new SpineError(
            'db.locked',
            `Another Spine process (pid ${holder}) is using ${what}. Only one process may open the embedded ` +
              'database: stop the other one first, or set DATABASE_URL to a Postgres server that several ' +
              'processes can share.',
            { category: 'user', details: { pid: holder, lockFile: path } },
          );
        }
        // The holder is gone: the lock is stale. Remove it and try once more.
        rmSync(path, { force: true });
      }
    }
    throw new SpineError(
      'db.locked',
      `Could not take the lock ${path}; remove it if no Spine process is running.`,
      {
        category: 'user',
      },
    );
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      const holder = Number.parseInt(readFileSync(this.#path, 'utf8').trim(), 10);
      if (holder === process.pid) rmSync(this.#path, { force: true });
    } catch {
      // Already gone: nothing to release.
    }
  }
}
