import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SPINE_BIN = join(REPO_ROOT, 'bin', 'spine.js');

export interface SpineRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment for a child `spine`: only what the test sets, plus PATH and HOME. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SPINE_OPERATOR_NAME: 'Ada',
    SPINE_TIMEZONE: 'UTC',
    ...env,
  };
}

/** Run `spine <args>` with `input` piped to stdin, to completion. */
export function runSpine(
  args: string[],
  input: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<SpineRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SPINE_BIN, ...args], { cwd: REPO_ROOT, env: childEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `spine ${args.join(' ')} did not finish in ${timeoutMs} ms.\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** Start `spine chat` and keep its stdin open, to talk to it line by line. */
export class InteractiveSpine {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [SPINE_BIN, 'chat'], { cwd: REPO_ROOT, env: childEnv(env) });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Wait until stdout contains `text` (bounded). */
  async waitFor(text: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stdout.includes(text)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for "${text}"; stdout so far:\n${this.stdout}\n${this.stderr}`);
      if (this.child.exitCode !== null)
        throw new Error(`spine exited (${this.child.exitCode}) before "${text}":\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Close stdin and wait for the exit code. */
  async end(): Promise<number | null> {
    this.child.stdin.end();
    if (this.child.exitCode !== null) return this.child.exitCode;
    return new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }
}
