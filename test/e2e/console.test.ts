import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { outboxFiles } from '../support/outbox.ts';
import { smtpEnv } from '../support/sink-config.ts';
import { useSmtpSinks } from '../support/smtp-sinks.ts';
import { InteractiveSpine, runSpine } from '../support/spine-process.ts';

const dataDirs: string[] = [];
function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spine-e2e-'));
  dataDirs.push(dir);
  return dir;
}

const outbox = (dataDir: string) => outboxFiles(join(dataDir, 'outbox'));

afterEach(() => {
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('spine chat through piped standard input', () => {
  // E-mails that must go out once are counted at an SMTP server that keeps every message: the
  // default file outbox overwrites <key>.eml, so a second delivery of one action would not show.
  const sinks = useSmtpSinks();

  it('remembers a fact and recalls it with its source', async () => {
    const dataDir = freshDataDir();
    const run = await runSpine(
      ['chat'],
      'remember that the studio rent is due on the 3rd\nwhat do you know about rent?\n',
      { SPINE_DATA_DIR: dataDir },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Got it — I remembered “the studio rent is due on the 3rd”.');
    expect(run.stdout).toMatch(
      /• the studio rent is due on the 3rd — you told me in the console on \d{1,2} \w{3} \d{4}/,
    );
  });

  it('e-mails only after approval: card → approve → exactly one message at the SMTP server', async () => {
    const dataDir = freshDataDir();
    const smtp = await sinks.start();
    const run = await runSpine(
      ['chat'],
      'email dana@example.com "Tuesday" Tuesday works for me.\napprove\n',
      smtpEnv(smtp, { SPINE_DATA_DIR: dataDir }),
    );
    expect(run.code).toBe(0);
    const cardAt = run.stdout.indexOf('Approval #1 — Send an e-mail to dana@example.com');
    const doneAt = run.stdout.indexOf('Done: sent an e-mail to dana@example.com');
    expect(cardAt).toBeGreaterThanOrEqual(0);
    expect(run.stdout).toContain('  To: dana@example.com\n  Subject: Tuesday\n  Body: Tuesday works for me.');
    expect(run.stdout).toContain('1) Approve   2) Reject');
    expect(doneAt).toBeGreaterThan(cardAt);
    expect(smtp.accepted).toHaveLength(1);
    expect(smtp.accepted[0]?.to).toEqual(['dana@example.com']);
    expect(smtp.accepted[0]?.raw).toContain('Tuesday works for me.');
  });

  // With no spine.config.yaml (the default file outbox): nothing written is nothing sent.
  it('sends nothing when the card is rejected (by number)', async () => {
    const dataDir = freshDataDir();
    const run = await runSpine(['chat'], 'email dana@example.com "No" This must not go out.\n2\n', {
      SPINE_DATA_DIR: dataDir,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Rejected by Ada');
    expect(run.stdout).toContain('Not done (you rejected it)');
    expect(outbox(dataDir)).toHaveLength(0);
  });

  it('leaves a card pending at end of input; a new process approves it and executes once; a third finds nothing', async () => {
    const dataDir = freshDataDir();
    // All three processes send to one SMTP server, which counts what any of them delivered.
    const smtp = await sinks.start();
    const env = smtpEnv(smtp, { SPINE_DATA_DIR: dataDir });
    const first = await runSpine(['chat'], 'email erin@example.com "Later" Approved tomorrow.\n', env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Approval #1');
    expect(smtp.accepted).toHaveLength(0);

    const second = await runSpine(['chat'], 'approve\n', env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Approved by Ada');
    expect(second.stdout).toContain('Done: sent an e-mail to erin@example.com');
    expect(smtp.accepted).toHaveLength(1);

    const third = await runSpine(['chat'], 'approve\napprove 1\nlog\n', env);
    expect(third.code).toBe(0);
    expect(third.stdout).toContain('Nothing is waiting for your approval.');
    expect(third.stdout).toContain('Approval #1 was already approved via the console.');
    expect(smtp.accepted).toHaveLength(1);
    // The whole story, in order.
    const story = third.stdout.slice(third.stdout.indexOf('You asked'));
    const lines = [
      'You asked “email erin@example.com "Later" Approved tomorrow.”',
      'Spine proposed sending an e-mail to erin@example.com about “Later”',
      'Spine asked for your approval before sending an e-mail to erin@example.com',
      'You approved sending an e-mail to erin@example.com about “Later” (goal #1, approval #1, via the console)',
      'Spine sent an e-mail to erin@example.com about “Later”',
      'Spine finished goal #1',
    ];
    let position = 0;
    for (const line of lines) {
      const at = story.indexOf(line, position);
      expect(at, `story should contain, in order: ${line}\n${story}`).toBeGreaterThanOrEqual(position);
      position = at;
    }
    // Three processes one after another: generous on a busy machine.
  }, 180_000);

  it('refuses a second process on the same data directory and leaves the first unharmed', async () => {
    const dataDir = freshDataDir();
    const first = new InteractiveSpine({ SPINE_DATA_DIR: dataDir });
    try {
      first.send('remember that the first process owns the database');
      await first.waitFor('Got it — I remembered');

      const second = await runSpine(['chat'], 'remember that I should not be stored\n', {
        SPINE_DATA_DIR: dataDir,
      });
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(
        `Another Spine process (pid ${first.child.pid}) is using the embedded database`,
      );
      expect(second.stderr).toContain('set DATABASE_URL');
      expect(second.stdout).not.toContain('I remembered');

      first.send('what do you know about the first process?');
      await first.waitFor('the first process owns the database — you told me');
      first.send('recall should not be stored');
      await first.waitFor('I don\'t know anything about "should not be stored"');
    } finally {
      expect(await first.end()).toBe(0);
    }
  });

  it('prints help, and explains bad configuration listing every problem', async () => {
    const dataDir = freshDataDir();
    const help = await runSpine(['chat'], 'help\n', { SPINE_DATA_DIR: dataDir });
    expect(help.stdout).toContain('email <address> "<subject>" <body>');

    const bad = await runSpine(['chat'], '', {
      SPINE_DATA_DIR: dataDir,
      SPINE_TIMEZONE: 'Mars/Olympus',
      LOG_LEVEL: 'loud',
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('the configuration has 2 problems');
    expect(bad.stderr).toContain('SPINE_TIMEZONE: "Mars/Olympus" is not an IANA time zone');
    expect(bad.stderr).toContain('LOG_LEVEL');
  });

  it('prints the story with `spine log`', async () => {
    const dataDir = freshDataDir();
    await runSpine(['chat'], 'remember that invoices go out on Fridays\n', { SPINE_DATA_DIR: dataDir });
    const log = await runSpine(['log'], '', { SPINE_DATA_DIR: dataDir });
    expect(log.code).toBe(0);
    expect(log.stdout).toMatch(
      /\d{2}:\d{2} You asked “remember that invoices go out on Fridays” \(goal #1, via the console\)/,
    );
    expect(log.stdout).toContain('Spine remembered “invoices go out on Fridays”');
  });
});
