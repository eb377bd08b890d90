import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

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

/** A structured logger writing JSON lines to stdout, or to a file (the console chat keeps its screen clean). */
export function createLogger(options: { level: string; file?: string | undefined }): Logger {
  const settings = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { app: 'spine' },
  };
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    return pino(settings, pino.destination({ dest: options.file, sync: true }));
  }
  return pino(settings);
}
