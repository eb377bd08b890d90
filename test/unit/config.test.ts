import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, readEnvironment } from '../../app/config.ts';
import { SpineError } from '../../core/errors.ts';

/** The problems a bad environment produces, or a failure if it loads. */
function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(SpineError);
    const spineError = error as SpineError;
    expect(spineError.code).toBe('config.invalid');
    expect(spineError.category).toBe('user');
    return spineError.details.problems as string[];
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig defaults', () => {
  it('runs on the embedded database under ./.spine with nothing set', () => {
    const config = loadConfig({});
    expect(config.database).toEqual({ url: undefined, dataDir: './.spine', schema: 'public' });
    expect(config.operator.probationDays).toBe(30);
    expect(config.operator.timezone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
    expect(config.operator.name.length).toBeGreaterThan(0);
    expect(config.email).toEqual({ from: 'Spine <spine@localhost>', outboxDir: './.spine/outbox' });
    expect(config.logLevel).toBe('info');
    expect(config.port).toBe(3000);
  });

  it('treats empty and blank values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '  ', SPINE_TIMEZONE: '', PORT: '', LOG_LEVEL: ' ' })).toEqual(
      loadConfig({}),
    );
  });

  it('reads every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://spine:pw@db.internal:5432/spine',
      SPINE_DATA_DIR: '/data/',
      SPINE_DB_SCHEMA: 'spine_prod',
      SPINE_OPERATOR_NAME: 'Ada',
      SPINE_TIMEZONE: 'Europe/Berlin',
      SPINE_PROBATION_DAYS: '0',
      SPINE_EMAIL_FROM: 'Ada <ada@example.com>',
      LOG_LEVEL: 'debug',
      PORT: '8080',
    });
    expect(config).toMatchObject({
      database: {
        url: 'postgresql://spine:pw@db.internal:5432/spine',
        dataDir: '/data/',
        schema: 'spine_prod',
      },
      operator: { name: 'Ada', timezone: 'Europe/Berlin', probationDays: 0 },
      // The outbox sits in the data directory, without a doubled slash.
      email: { from: 'Ada <ada@example.com>', outboxDir: '/data/outbox' },
      logLevel: 'debug',
      port: 8080,
    });
  });
});

describe('loadConfig errors', () => {
  it('lists every problem at once, each naming its variable', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://localhost/spine',
      SPINE_DB_SCHEMA: 'Bad-Name',
      SPINE_TIMEZONE: 'Mars/Olympus',
      SPINE_PROBATION_DAYS: '1.5',
      SPINE_EMAIL_FROM: 'x',
      LOG_LEVEL: 'loud',
      PORT: '70000',
    });
    expect(problems.map((problem) => problem.trim().split(':')[0]?.replace(/^- /, ''))).toEqual([
      'DATABASE_URL',
      'SPINE_DB_SCHEMA',
      'SPINE_TIMEZONE',
      'SPINE_PROBATION_DAYS',
      'SPINE_EMAIL_FROM',
      'LOG_LEVEL',
      'PORT',
    ]);
  });

  it('says how many problems there are and where to fix them', () => {
    let message = '';
    try {
      loadConfig({ SPINE_TIMEZONE: 'Nowhere/City', LOG_LEVEL: 'loud' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('the configuration has 2 problems:');
    expect(message).toContain('Fix them in the environment or in .env');
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow('the configuration has 1 problem:');
  });

  it.each(['mysql://localhost/spine', 'localhost:5432', 'postgres://', 'http://db/spine'])(
    'refuses DATABASE_URL=%j and explains how to use the embedded database instead',
    (url) => {
      expect(problemsOf({ DATABASE_URL: url })).toEqual([
        '  - DATABASE_URL: must be a postgres:// URL (unset it to use the embedded database)',
      ]);
    },
  );

  it.each(['postgres://localhost/spine', 'postgresql://u:p@127.0.0.1:5433/db?sslmode=disable'])(
    'accepts DATABASE_URL=%j',
    (url) => {
      expect(loadConfig({ DATABASE_URL: url }).database.url).toBe(url);
    },
  );

  it.each(['Mars/Olympus', 'Berlin', 'GMT+25'])('refuses SPINE_TIMEZONE=%j with an example', (zone) => {
    expect(problemsOf({ SPINE_TIMEZONE: zone })).toEqual([
      `  - SPINE_TIMEZONE: "${zone}" is not an IANA time zone (e.g. Europe/Berlin)`,
    ]);
  });

  it.each(['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'])(
    'accepts SPINE_TIMEZONE=%j',
    (zone) => {
      expect(loadConfig({ SPINE_TIMEZONE: zone }).operator.timezone).toBe(zone);
    },
  );

  it.each([
    ['SPINE_PROBATION_DAYS', '91'],
    ['SPINE_PROBATION_DAYS', '-1'],
    ['SPINE_PROBATION_DAYS', 'thirty'],
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['SPINE_DB_SCHEMA', '1abc'],
    ['SPINE_DB_SCHEMA', 'spine; DROP TABLE goals'],
    ['LOG_LEVEL', 'verbose'],
  ])('refuses %s=%j', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^ {2}- ${name}: `));
  });
});

describe('readEnvironment', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.unstubAllEnvs();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function envFile(contents: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'spine-config-'));
    dirs.push(dir);
    const file = join(dir, '.env');
    writeFileSync(file, contents);
    return file;
  }

  it('reads a .env file underneath the real environment, and the real environment wins', () => {
    const file = envFile(
      'SPINE_TIMEZONE=Asia/Tokyo\nLOG_LEVEL=debug\n# a comment\nSPINE_OPERATOR_NAME="Ada Lovelace"\n',
    );
    vi.stubEnv('SPINE_TIMEZONE', undefined);
    vi.stubEnv('SPINE_OPERATOR_NAME', undefined);
    vi.stubEnv('LOG_LEVEL', 'warn');
    const env = readEnvironment(file);
    expect(env.SPINE_TIMEZONE).toBe('Asia/Tokyo');
    expect(env.SPINE_OPERATOR_NAME).toBe('Ada Lovelace');
    expect(env.LOG_LEVEL).toBe('warn');
    const config = loadConfig(env);
    expect(config.operator.timezone).toBe('Asia/Tokyo');
    expect(config.logLevel).toBe('warn');
  });

  it('reads only the real environment when there is no .env file', () => {
    vi.stubEnv('SPINE_TIMEZONE', 'Europe/Paris');
    const env = readEnvironment(join(tmpdir(), 'spine-no-such-dir', '.env'));
    expect(env.SPINE_TIMEZONE).toBe('Europe/Paris');
    expect(env.PATH).toBe(process.env.PATH);
  });
});
