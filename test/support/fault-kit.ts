import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { approvalButtonAction } from '../../core/cards.ts';
import type { ActionStatus } from '../../core/domain.ts';
import { failureButtonAction } from '../../core/failure-card.ts';
import type { Database } from '../../db/database.ts';
import { FINISHED_ACTION_STATUSES } from '../../db/repositories/actions.ts';
import { UNKNOWN_OUTCOME } from '../../ledger/failure-remedies.ts';
import { FakeWebhookServer } from '../fakes/fake-webhook-server.ts';
import { SmtpSink } from '../fakes/smtp-sink.ts';
import { TEST_DATABASE_URL, TestDatabases } from './databases.ts';
import { freePort } from './free-port.ts';
import { WorkerProcess } from './processes.ts';
import {
  createQueueSpine,
  deletePrefix,
  type QueueSpine,
  queueEnv,
  uniquePrefix,
  waitUntil,
} from './queue-spine.ts';
import { writeSpineConfig } from './sink-config.ts';
import { childEnv, REPO_ROOT, SPINE_BIN } from './spine-process.ts';

// The fault-injection rig of test/faults/: real `spine worker` / `spine start` processes on one
// database and queue prefix, a main process in the test (its chat is recorded), and sinks that
// never deduplicate, so each effect is counted where it lands.

/** One client connection through the tap. */
export interface TapSession {
  /** Everything the client said (SMTP commands and the message), in order. */
  client: string;
  /** Held: the client connected, and nothing reached the sink (no greeting either) until released. */
  held: boolean;
  /** The client's side of the connection ended (it quit, or it died). */
  closed: boolean;
}

/**
 * A TCP relay in front of the SMTP sink. It shows what each client said (so a test knows a
 * worker read the server's 250: it then says QUIT) and can hold a connection, so that a worker
 * is stopped inside its connector call before any byte of the message reached the sink.
 */
export class SmtpTap {
  readonly sessions: TapSession[] = [];
  /** What the next connections get, first in first out; relayed once empty. */
  readonly script: Array<'hold'> = [];
  port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #held: Array<{ client: Socket; session: TapSession }> = [];

  constructor(private readonly sinkPort: number) {
    this.#server = createServer((client) => this.#relay(client));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this.port;
  }

  /** The sessions that sent a message to `recipient`. */
  sessionsFor(recipient: string): TapSession[] {
    const rcpt = `rcpt to:<${recipient.toLowerCase()}>`;
    return this.sessions.filter((session) => session.client.toLowerCase().includes(rcpt));
  }

  /** A held connection whose client is still there. */
  holding(): boolean {
    return this.#held.some(({ session }) => !session.closed);
  }

  /** Let the held connections through to the sink, as if the network came back. */
  release(): void {
    for (const { client, session } of this.#held.splice(0)) {
      session.held = false;
      if (!session.closed) this.#connect(client, session);
    }
  }

  /** The client read the server's answer to its message: it said QUIT after it. */
  answered(recipient: string): boolean {
    return this.sessionsFor(recipient).some((session) => /\r\nQUIT\r\n/i.test(session.client));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: Socket): Socket {
    this.#sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  #relay(client: Socket): void {
    const session: TapSession = { client: '', held: false, closed: false };
    this.sessions.push(session);
    this.#track(client);
    client.once('close', () => {
      session.closed = true;
    });
    if (this.script.shift() === 'hold') {
      // Nothing is forwarded and nothing answered: the client waits for a greeting that never comes.
      session.held = true;
      this.#held.push({ client, session });
      return;
    }
    this.#connect(client, session);
  }

  #connect(client: Socket, session: TapSession): void {
    const upstream = this.#track(createConnection({ host: '127.0.0.1', port: this.sinkPort }));
    client.on('data', (chunk: Buffer) => {
      session.client += chunk.toString('utf8');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }
}

/** A `spine start` child process (a main process: HTTP, recovery, the due-check), its output kept. */
export class StartProcess {
  readonly child: ChildProcess;
  output = '';
  exitCode: number | null | undefined;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [SPINE_BIN, 'start'], {
      cwd: REPO_ROOT,
      env: childEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.on('exit', (code) => {
      this.exitCode = code;
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exitCode === undefined) this.child.kill(signal);
  }
}

/** A worker frozen with SIGSTOP runs nothing until SIGCONT: no job is fetched, no lease renewed. */
export function freeze(process: WorkerProcess | StartProcess): void {
  signal(process, 'SIGSTOP');
}

export function thaw(process: WorkerProcess | StartProcess): void {
  signal(process, 'SIGCONT');
}

function signal(process: WorkerProcess | StartProcess, name: NodeJS.Signals): void {
  if (process instanceof WorkerProcess) process.kill(name);
  else process.signal(name);
}

const CRM_SECRET = 'whsec-fault-suite-crm-secret';
const LEDGER_SECRET = 'whsec-fault-suite-ledger-secret';

/**
 * A table whose writers queue behind a lock the test holds, so that a process stops right at its
 * next insert there; the test can then cut that writer's database connection mid-statement, as
 * when its process dies or the database fails over at that very point.
 */
export class WriteStall {
  readonly #client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  readonly #table: string;
  /** Looks from outside the lock's transaction: inside it, pg_stat_activity stays as first read. */
  readonly #observer: Database['pool'];

  private constructor(db: Database, table: string) {
    this.#table = `${db.schema}.${table}`;
    this.#observer = db.pool;
  }

  /** Hold `table`'s writes in the database's schema (reads go on) until `release()`. */
  static async on(db: Database, table: string): Promise<WriteStall> {
    const stall = new WriteStall(db, table);
    await stall.#client.connect();
    await stall.#client.query('BEGIN');
    await stall.#client.query(`LOCK TABLE ${stall.#table} IN SHARE ROW EXCLUSIVE MODE`);
    return stall;
  }

  /** Wait until a statement matching `statement` waits for the table; its backend's pid. */
  async writer(statement: RegExp): Promise<number> {
    let pid = 0;
    await waitUntil(async () => {
      // Waiting for this very table (other schemas' tables of the same name are other tests').
      const waiting = await this.#observer.query(
        `SELECT l.pid, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.relation = $1::regclass AND NOT l.granted`,
        [this.#table],
      );
      pid = Number(waiting.rows.find((row) => statement.test(String(row.query)))?.pid ?? 0);
      return pid !== 0;
    }, `a writer ${statement} to wait for ${this.#table}`);
    return pid;
  }

  /** Cut a backend's connection: its statement is abandoned, its client gets an error. */
  async cut(pid: number): Promise<void> {
    await this.#observer.query('SELECT pg_terminate_backend($1)', [pid]);
  }

  async release(): Promise<void> {
    await this.#client.query('COMMIT');
    await this.#client.end();
  }
}

/** How an action ended, with what its sink received. */
export interface SinkCount {
  actionId: number;
  /** What the sink counted for this action: accepted messages, or requests that committed. */
  effects: number;
}

/** An action proposed in chat and waiting on its approval card. */
export interface Proposed {
  goalId: number;
  approvalId: number;
  actionId: number;
}

/**
 * One deployment under test: a schema, a queue prefix, the counting sinks, a main process in the
 * test (chat recorded, due-check and recovery running as in `spine start`), and the worker
 * processes a test starts. E-mail goes over SMTP through the tap to the sink; `crm` is a webhook
 * whose receiver ignores Idempotency-Key (so it is `until_sent`); `ledger` is one declared
 * `idempotent: true` whose receiver honours it (`by_key`).
 */
export class FaultRig {
  readonly #databases = new TestDatabases('server');
  readonly #children: Array<WorkerProcess | StartProcess> = [];
  readonly prefix = uniquePrefix();
  readonly dataDir = mkdtempSync(join(tmpdir(), 'spine-faults-'));
  readonly sink = new SmtpSink();
  readonly crm = new FakeWebhookServer(CRM_SECRET, { honoursIdempotencyKey: false });
  readonly ledger = new FakeWebhookServer(LEDGER_SECRET, { honoursIdempotencyKey: true });
  tap!: SmtpTap;
  db!: Database;
  main!: QueueSpine;
  #crmUrl = '';
  #ledgerUrl = '';

  /** The rig, its action lease `leaseSeconds` long in every process. */
  static async open(options: { leaseSeconds: number }): Promise<FaultRig> {
    const rig = new FaultRig(options.leaseSeconds);
    await rig.#open();
    return rig;
  }

  private constructor(readonly leaseSeconds: number) {}

  async #open(): Promise<void> {
    this.tap = new SmtpTap(await this.sink.start());
    await this.tap.start();
    this.#crmUrl = `${await this.crm.start()}/leads`;
    this.#ledgerUrl = `${await this.ledger.start()}/entries`;
    this.db = await this.#databases.open();
    this.main = await createQueueSpine(this.db, {
      prefix: this.prefix,
      role: 'main',
      env: { SPINE_DATA_DIR: this.dataDir, ...this.env() },
    });
    await this.main.spine.startBackground();
  }

  /**
   * The environment every process of the deployment shares: its spine.config.yaml (SMTP through
   * the tap, the two webhooks, the lease) and the webhook secrets. `timeoutSeconds`: the per-attempt
   * timeout of that process's connector calls.
   */
  env(options: { timeoutSeconds?: number } = {}): Record<string, string> {
    const resilience = [
      'resilience:',
      `  leaseSeconds: ${this.leaseSeconds}`,
      ...(options.timeoutSeconds === undefined ? [] : [`  timeoutSeconds: ${options.timeoutSeconds}`]),
    ];
    const config = writeSpineConfig(
      ['email:', '  transport: smtp', '  smtp:', '    host: 127.0.0.1', `    port: ${this.tap.port}`].join(
        '\n',
      ),
      [
        'webhooks:',
        '  crm:',
        `    url: ${this.#crmUrl}`,
        `    secret: $${'{'}FAULT_CRM_SECRET}`,
        '    risk: write',
        '  ledger:',
        `    url: ${this.#ledgerUrl}`,
        `    secret: $${'{'}FAULT_LEDGER_SECRET}`,
        '    risk: write',
        '    idempotent: true',
      ].join('\n'),
      resilience.join('\n'),
    );
    return { SPINE_CONFIG: config, FAULT_CRM_SECRET: CRM_SECRET, FAULT_LEDGER_SECRET: LEDGER_SECRET };
  }

  /** The environment of a child process of this deployment (queue mode, its schema and prefix). */
  childEnv(extra: Record<string, string> = {}, options: { timeoutSeconds?: number } = {}) {
    return queueEnv({
      schema: this.db.schema,
      prefix: this.prefix,
      dataDir: this.dataDir,
      extra: { LOG_LEVEL: 'info', ...this.env(options), ...extra },
    });
  }

  /** Start a `spine worker` (not waiting for it: `await worker.ready()`). */
  worker(extra: Record<string, string> = {}, options: { timeoutSeconds?: number } = {}): WorkerProcess {
    const worker = new WorkerProcess(this.childEnv({ SPINE_WORKER_CONCURRENCY: '8', ...extra }, options));
    this.#children.push(worker);
    return worker;
  }

  /** Start a `spine start` replica and wait until its HTTP server answers. */
  async replica(): Promise<StartProcess> {
    const port = await freePort();
    const replica = new StartProcess(this.childEnv({ PORT: String(port) }));
    this.#children.push(replica);
    await waitUntil(
      async () => {
        if (replica.exitCode !== undefined) throw new Error(`spine start exited:\n${replica.output}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
        } catch {
          return false;
        }
      },
      'the spine start replica to answer /healthz',
      60_000,
    );
    return replica;
  }

  /** Say something in the console as the operator; a new delivery id unless one is given. */
  async say(text: string, deliveryId: string = randomUUID()) {
    return this.main.spine.intake.handleMessage({
      channel: 'console',
      deliveryId,
      userId: 'local',
      text,
      thread: { channel: 'console', conversation: 'local' },
    });
  }

  /** Press a button in the console. */
  async press(action: string): Promise<void> {
    await this.main.spine.intake.press({
      action,
      channel: 'console',
      userId: 'local',
      thread: { channel: 'console', conversation: 'local' },
    });
  }

  /** Ask for something that needs approval; wait until a worker planned it and its card is shown. */
  async propose(text: string): Promise<Proposed> {
    const result = await this.say(text);
    if (result.kind !== 'goal') throw new Error(`“${text}” did not make a goal (${result.kind})`);
    let approval: { id: number; action_id: number } | undefined;
    await waitUntil(async () => {
      approval = (
        await this.db.pool.query('SELECT id, action_id FROM approvals WHERE goal_id = $1', [result.goalId])
      ).rows[0];
      return (
        approval !== undefined &&
        this.main.chat.texts().some((shown) => shown.startsWith(`Approval #${approval?.id} needed`))
      );
    }, `the approval card of “${text}”`);
    if (!approval) throw new Error('unreachable');
    return { goalId: result.goalId, approvalId: approval.id, actionId: Number(approval.action_id) };
  }

  /** Approve with the card's button. */
  async approve(proposed: Proposed): Promise<void> {
    await this.press(approvalButtonAction('approve', proposed.approvalId));
  }

  async actionStatus(actionId: number): Promise<ActionStatus> {
    const row = (await this.db.pool.query('SELECT status FROM actions WHERE id = $1', [actionId])).rows[0];
    return row.status as ActionStatus;
  }

  /** The action ended: succeeded, failed or unknown. */
  async ended(actionId: number): Promise<boolean> {
    return FINISHED_ACTION_STATUSES.includes(await this.actionStatus(actionId));
  }

  async attempts(actionId: number): Promise<number> {
    const row = (await this.db.pool.query('SELECT attempts FROM actions WHERE id = $1', [actionId])).rows[0];
    return Number(row.attempts);
  }

  /**
   * Wait (generously) until `actionIds` have ended (succeeded, failed or unknown) and nothing is
   * stuck: no action left `approved` or `executing` unless it waits for its time, no goal left
   * `running`.
   */
  async settled(actionIds: number[], timeoutMs = 60_000): Promise<void> {
    await waitUntil(
      async () => {
        const open = await this.db.pool.query(
          `SELECT
             (SELECT count(*)::int FROM actions WHERE id = ANY($1) AND status = ANY($2)) AS ended,
             (SELECT count(*)::int FROM actions WHERE status = 'executing'
                OR (status = 'approved' AND (scheduled_at IS NULL OR scheduled_at <= now()))) AS open,
             (SELECT count(*)::int FROM goals WHERE status = 'running') AS running`,
          [actionIds, FINISHED_ACTION_STATUSES],
        );
        const { ended, open: left, running } = open.rows[0];
        return ended === actionIds.length && left === 0 && running === 0;
      },
      `actions ${actionIds.map((id) => `#${id}`).join(', ')} to end, with nothing executing or running`,
      timeoutMs,
    );
  }

  /**
   * The promise, for each action and what its sink counted: it ended `succeeded` (landed once),
   * `failed` (nothing landed) or `unknown` (at most once, and an open failure card with “It
   * happened” / “Do it again” was shown in the chat). Call it once the actions are `settled`.
   * Returns the ways it was broken (empty when kept).
   */
  async brokenPromises(counts: SinkCount[]): Promise<string[]> {
    const broken: string[] = [];
    for (const { actionId, effects } of counts) {
      const status = await this.actionStatus(actionId);
      const where = `action #${actionId} (${status}, ${effects} at the sink)`;
      if (effects > 1) broken.push(`${where}: the effect landed more than once`);
      if (status === 'succeeded' && effects !== 1) broken.push(`${where}: succeeded without one effect`);
      else if (status === 'failed' && effects !== 0) broken.push(`${where}: failed, yet something landed`);
      else if (status === 'unknown') {
        // Recorded before the goal ends (or before the due-check posts): once settled, a missing
        // failure stays missing. Its card reaches the chat through the outbox, a moment later.
        const failureId = await this.#unknownOutcomeFailure(actionId);
        if (failureId === null)
          broken.push(`${where}: unknown, and no failure was recorded to ask the operator`);
        else {
          const shown = await waitUntil(() => this.#cardShown(failureId), `failure card #${failureId}`).then(
            () => true,
            () => false,
          );
          if (!shown) broken.push(`${where}: unknown, and failure #${failureId}'s card was never shown`);
        }
      } else if (status !== 'succeeded' && status !== 'failed') broken.push(`${where}: did not end`);
    }
    return broken;
  }

  /** The open “may have happened” failure of an action, if one was recorded. */
  async #unknownOutcomeFailure(actionId: number): Promise<number | null> {
    const failure = await this.db.pool.query(
      `SELECT id FROM failures WHERE action_id = $1 AND kind = $2 AND status = 'open'`,
      [actionId, UNKNOWN_OUTCOME],
    );
    return failure.rows[0] ? Number(failure.rows[0].id) : null;
  }

  /** The failure's card, with “It happened” and “Do it again”, was shown in the chat. */
  #cardShown(failureId: number): boolean {
    return this.main.chat.posts.some((post) => {
      const buttons = (post.message.blocks ?? []).flatMap((block) =>
        block.type === 'buttons' ? block.buttons.map((button) => button.action) : [],
      );
      return (
        post.message.text.startsWith(`Failure #${failureId}:`) &&
        buttons.includes(failureButtonAction('happened', failureId)) &&
        buttons.includes(failureButtonAction('again', failureId))
      );
    });
  }

  /** Kill every child process (SIGKILL also ends a frozen one), then close the rest. */
  async close(): Promise<void> {
    for (const child of this.#children) {
      if (child instanceof WorkerProcess) child.kill('SIGKILL');
      else child.signal('SIGKILL');
    }
    await this.main?.spine.close();
    await deletePrefix(this.prefix);
    await this.#databases.closeAll();
    rmSync(this.dataDir, { recursive: true, force: true });
    await this.tap?.close();
    await this.sink.close();
    await this.crm.stop();
    await this.ledger.stop();
  }
}
