import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger, type LoggerOptions } from 'pino';
import { SecretRedactor } from '../core/secret-redaction.ts';

/** Keys that may carry secrets; pino replaces their values wherever they appear in a log line. */
export const REDACTED_PATHS = [
  'token',
  'password',
  'secret',
  'apiKey',
  'authorization',
  'databaseUrl',
  '*.token',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.authorization',
  '*.databaseUrl',
  'headers.authorization',
  'headers.cookie',
];

/**
 * pino settings for Spine: key-name redaction, plus redaction by value of every configured secret
 * (`configuredSecrets(config)`), applied to the finished line so a secret inside a message, an
 * error or a URL is caught whatever key carries it. Tests build their loggers from this too.
 */
export function loggerOptions(options: { level: string; secrets?: Iterable<string> }): LoggerOptions {
  const redactor = new SecretRedactor(options.secrets ?? [], '[redacted]');
  return {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { app: 'spine' },
    ...(redactor.empty ? {} : { hooks: { streamWrite: (line: string) => redactor.redact(line) } }),
  };
}

/**
 * A structured logger writing JSON lines to stdout, or to a file (the console chat keeps its screen
 * clean). Pass `secrets: configuredSecrets(config)` so no configured secret value reaches a line.
 */
export function createLogger(options: {
  level: string;
  file?: string | undefined;
  secrets?: Iterable<string>;
}): Logger {
  const settings = loggerOptions(options);
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    return pino(settings, pino.destination({ dest: options.file, sync: true }));
  }
  return pino(settings);
}
