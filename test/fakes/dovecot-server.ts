import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../support/child-process.ts';
import { freePort } from '../support/free-port.ts';

const DOVECOT = '/usr/sbin/dovecot';

/** The system account Dovecot uses when started as root (it refuses to serve mail as root). */
function accountOf(name: string): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Debian's Dovecot IMAP server with a throwaway config (plain passwords, one static user, a
 * Maildir in a temp dir) on a free loopback port. As root, mail is served as `nobody` and the
 * internal processes run as Dovecot's own accounts; as any other user, everything runs as that user.
 */
export class DovecotServer {
  readonly user = 'ada';
  readonly password = 'imap-test-password';
  readonly host = '127.0.0.1';
  port = 0;
  #process: ChildProcess | undefined;
  #dir = '';

  /** `imap://ada:…@127.0.0.1:port/INBOX`. */
  get url(): string {
    return `imap://${this.user}:${this.password}@${this.host}:${this.port}/INBOX`;
  }

  async start(): Promise<void> {
    this.#dir = mkdtempSync(join(tmpdir(), 'spine-dovecot-'));
    this.port = await freePort();
    const asRoot = process.getuid?.() === 0;
    const current = userInfo();
    const mailOwner = asRoot
      ? (accountOf('nobody') ?? { uid: 65534, gid: 65534 })
      : { uid: current.uid, gid: current.gid };
    const internalUser = asRoot ? (accountOf('dovecot') ? 'dovecot' : 'nobody') : current.username;
    const loginUser = asRoot ? (accountOf('dovenull') ? 'dovenull' : 'nobody') : current.username;
    const home = join(this.#dir, 'home');
    mkdirSync(join(home, 'Maildir'), { recursive: true });
    if (asRoot) {
      chmodSync(this.#dir, 0o755);
      chownSync(home, mailOwner.uid, mailOwner.gid);
      chownSync(join(home, 'Maildir'), mailOwner.uid, mailOwner.gid);
    }
    writeFileSync(join(this.#dir, 'passwd'), `${this.user}:{PLAIN}${this.password}::::::\n`);
    const log = join(this.#dir, 'dovecot.log');
    writeFileSync(
      join(this.#dir, 'dovecot.conf'),
      [
        'protocols = imap',
        `listen = ${this.host}`,
        `base_dir = ${join(this.#dir, 'run')}`,
        `state_dir = ${join(this.#dir, 'state')}`,
        `log_path = ${log}`,
        `info_log_path = ${log}`,
        'ssl = no',
        // IDLE notices new mail through inotify; where that is unavailable, poll every second, not every 30.
        'mailbox_idle_check_interval = 1 secs',
        'disable_plaintext_auth = no',
        'auth_mechanisms = plain login',
        `default_internal_user = ${internalUser}`,
        `default_login_user = ${loginUser}`,
        ...(asRoot ? [] : [`default_internal_group = ${current.gid}`]),
        `first_valid_uid = ${Math.min(mailOwner.uid, 500)}`,
        `mail_location = maildir:${join(home, 'Maildir')}`,
        'passdb {',
        '  driver = passwd-file',
        `  args = scheme=PLAIN username_format=%u ${join(this.#dir, 'passwd')}`,
        '}',
        'userdb {',
        '  driver = static',
        `  args = uid=${mailOwner.uid} gid=${mailOwner.gid} home=${home}`,
        '}',
        'service imap-login {',
        '  inet_listener imap {',
        `    address = ${this.host}`,
        `    port = ${this.port}`,
        '  }',
        '  inet_listener imaps {',
        '    port = 0',
        '  }',
        ...(asRoot ? [] : ['  chroot =']),
        '}',
        ...(asRoot ? [] : ['service anvil {', '  chroot =', '}']),
        '',
      ].join('\n'),
    );
    await this.#launch();
  }

  async #launch(): Promise<void> {
    const child = spawn(DOVECOT, ['-F', '-c', join(this.#dir, 'dovecot.conf')], { stdio: 'ignore' });
    this.#process = child;
    for (let attempt = 0; attempt < 200; attempt += 1) {
      if (child.exitCode !== null) break;
      if (await this.#greets()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const log = join(this.#dir, 'dovecot.log');
    const logged = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '(no log)';
    await this.stop();
    throw new Error(`Dovecot did not start on port ${this.port}:\n${logged}`);
  }

  /**
   * Stop the server (dropping every connection) and start it again on the same port with the same
   * mail. With `renumber`, the mailbox's UID list is thrown away, so it comes back with a new UIDVALIDITY.
   */
  async restart(options: { renumber?: boolean } = {}): Promise<void> {
    await stopChild(this.#process);
    if (options.renumber) {
      const maildir = join(this.#dir, 'home', 'Maildir');
      for (const file of readdirSync(maildir))
        if (file.startsWith('dovecot')) rmSync(join(maildir, file), { recursive: true, force: true });
    }
    await this.#launch();
  }

  /** True once the server sends its IMAP greeting. */
  async #greets(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.port, this.host);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('* OK'));
      });
      socket.once('error', () => resolve(false));
    });
  }

  async stop(): Promise<void> {
    await stopChild(this.#process);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
