/**
 * Time from starting Spine to its first console prompt (`you> `), in a real pseudo-terminal:
 * the command runs under `script -qfc`, so its stdin is a TTY exactly as when a person types
 * `npm start`. Cold runs get a fresh SPINE_DATA_DIR (first PGlite initialisation and migrations);
 * warm runs reuse one data directory that was initialised beforehand.
 *
 *   npm run bench -- startup [--runs 5] [--command "npm start"]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PROMPT = 'you> ';
const RUN_TIMEOUT_MS = 180_000;

function option(args: string[], name: string, fallback: string): string {
  const index = args.indexOf(name);
  return index >= 0 ? (args[index + 1] ?? fallback) : fallback;
}

/** The 1, 5 and 15 minute load averages: the machine is shared, so the figures need this context. */
function load(): string {
  return loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Start `command` in a pseudo-terminal, return the milliseconds until the prompt, then leave with `exit`. */
function timeToPrompt(command: string, dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('script', ['-qfc', command, '/dev/null'], {
      cwd: REPO_ROOT,
      // PORT=0: any free port, so the HTTP server never collides with another Spine on this machine.
      env: { ...process.env, SPINE_DATA_DIR: dataDir, PORT: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let elapsed: number | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no prompt within ${RUN_TIMEOUT_MS} ms; output:\n${output}`));
    }, RUN_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (elapsed === undefined && output.includes(PROMPT)) {
        elapsed = Number(process.hrtime.bigint() - started) / 1e6;
        child.stdin.write('exit\n');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (elapsed === undefined) reject(new Error(`exited (${code}) before the prompt; output:\n${output}`));
      else resolve(elapsed);
    });
  });
}

export default async function startup(args: string[]): Promise<void> {
  const runs = Number(option(args, '--runs', '5'));
  const command = option(args, '--command', 'npm start');
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'spine-bench-startup-'));
    dirs.push(dir);
    return dir;
  };
  try {
    process.stdout.write(
      `startup: "${command}" to the first "${PROMPT.trim()}" prompt, in a pseudo-terminal\n` +
        `machine: ${cpus().length} cores, load average ${load()}\n`,
    );
    const cold: number[] = [];
    for (let run = 1; run <= runs; run += 1) {
      cold.push(await timeToPrompt(command, freshDir()));
      process.stdout.write(`  cold run ${run}: ${cold.at(-1)!.toFixed(0)} ms\n`);
    }
    const warmDir = freshDir();
    await timeToPrompt(command, warmDir); // initialise it; not counted
    const warm: number[] = [];
    for (let run = 1; run <= runs; run += 1) {
      warm.push(await timeToPrompt(command, warmDir));
      process.stdout.write(`  warm run ${run}: ${warm.at(-1)!.toFixed(0)} ms\n`);
    }
    process.stdout.write(
      `median of ${runs}: cold ${median(cold).toFixed(0)} ms, warm ${median(warm).toFixed(0)} ms\n` +
        `(cold = fresh SPINE_DATA_DIR: first PGlite init + migrations; warm = existing data directory)\n` +
        `load average after: ${load()}\n`,
    );
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
