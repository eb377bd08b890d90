import { type ChildProcess, spawn } from 'node:child_process';
import { waitUntil } from './queue-spine.ts';
import { childEnv, REPO_ROOT, SPINE_BIN } from './spine-process.ts';

/** A `spine worker` child process. */
export class WorkerProcess {
  readonly child: ChildProcess;
  output = '';
  exitCode: number | null | undefined;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [SPINE_BIN, 'worker'], { cwd: REPO_ROOT, env: childEnv(env) });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    this.child.on('exit', (code) => {
      this.exitCode = code;
    });
  }

  async ready(): Promise<void> {
    await waitUntil(
      () => {
        if (this.exitCode !== undefined) throw new Error(`worker exited early:\n${this.output}`);
        return this.output.includes('worker ready');
      },
      'the worker to start',
      45_000,
    );
  }

  exited(timeoutMs = 30_000): Promise<number | null> {
    if (this.exitCode !== undefined) return Promise.resolve(this.exitCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not exit:\n${this.output}`)), timeoutMs);
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exitCode === undefined) this.child.kill(signal);
  }
}

/** A private redis-server child on its own port (the shared one is never restarted). */
export class RedisProcess {
  child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitUntil(() => output.includes('Ready to accept connections'), 'redis-server to start', 15_000);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
