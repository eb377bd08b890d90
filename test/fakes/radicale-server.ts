import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  /**
   * The events the calendar holds, read from Radicale's storage folder rather than through CalDAV:
   * one entry per VEVENT in every stored object, so nothing a client does (a time-range filter,
   * collapsing by UID) can hide a second event. A test asserting "created once" counts here.
   */
  storedEvents(): Array<{ file: string; uid: string | null; summary: string | null }> {
    const folder = join(this.#dir, 'collections', 'collection-root', this.username, 'work');
    if (!existsSync(folder)) return [];
    return readdirSync(folder)
      .filter((file) => file.endsWith('.ics'))
      .flatMap((file) => {
        // Unfold continuation lines (RFC 5545 §3.1) so a long SUMMARY is read whole.
        const text = readFileSync(join(folder, file), 'utf8').replace(/\r?\n[ \t]/g, '');
        return [...text.matchAll(/BEGIN:VEVENT([\s\S]*?)END:VEVENT/g)].map((match) => {
          const field = (name: string) =>
            new RegExp(`^${name}(?:;[^:\\r\\n]*)?:(.*)$`, 'm').exec(match[1] ?? '')?.[1]?.trim() ?? null;
          return { file, uid: field('UID'), summary: field('SUMMARY') };
        });
      });
  }

  /** How many stored events have this summary (title). */
  countEvents(summary: string): number {
    return this.storedEvents().filter((event) => event.summary === summary).length;
  }

  async stop(): Promise<void> {
    await stopChild(this.#process);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
