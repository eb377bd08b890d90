import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../support/child-process.ts';
import { freePort } from '../support/free-port.ts';

/**
 * Debian's Radicale CalDAV server with a throwaway config (plain htpasswd, one user) on a free
 * loopback port, and one calendar created for the user. `scripts/setup-services.sh` installs it.
 */
export class RadicaleServer {
  readonly username = 'ada';
  readonly password = 'radicale-test-password';
  url = '';
  calendarUrl = '';
  #process: ChildProcess | undefined;
  #dir = '';

  async start(): Promise<void> {
    this.#dir = mkdtempSync(join(tmpdir(), 'spine-radicale-'));
    const port = await freePort();
    writeFileSync(join(this.#dir, 'users'), `${this.username}:${this.password}\n`);
    writeFileSync(
      join(this.#dir, 'config'),
      [
        '[server]',
        `hosts = 127.0.0.1:${port}`,
        '[auth]',
        'type = htpasswd',
        `htpasswd_filename = ${join(this.#dir, 'users')}`,
        'htpasswd_encryption = plain',
        '[rights]',
        'type = owner_only',
        '[storage]',
        `filesystem_folder = ${join(this.#dir, 'collections')}`,
        '[logging]',
        'level = warning',
        '',
      ].join('\n'),
    );
    this.#process = spawn('radicale', ['--config', join(this.#dir, 'config')], { stdio: 'ignore' });
    this.url = `http://127.0.0.1:${port}/`;
    const authorization = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      try {
        await fetch(this.url);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.calendarUrl = `${this.url}${this.username}/work/`;
    const made = await fetch(this.calendarUrl, {
      method: 'MKCALENDAR',
      headers: { authorization, 'content-type': 'application/xml' },
      body: `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>Work</D:displayname></D:prop></D:set>
</C:mkcalendar>`,
    });
    if (made.status !== 201) throw new Error(`could not create the test calendar: HTTP ${made.status}`);
  }

  async stop(): Promise<void> {
    await stopChild(this.#process);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
