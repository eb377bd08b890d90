import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SmtpSink } from '../fakes/smtp-sink.ts';
import { uniqueSchema } from './databases.ts';

// spine.config.yaml sections that point Spine at the counting sinks of test/fakes, so a test can
// count effects where they land rather than in Spine's own (deduplicating) records.

/** spine.config.yaml's `email:` section that sends over SMTP to a sink on loopback (no TLS, no login). */
export function smtpEmailSection(sink: SmtpSink): string {
  if (sink.port === 0) throw new Error('start the SMTP sink before writing its configuration');
  return ['email:', '  transport: smtp', '  smtp:', '    host: 127.0.0.1', `    port: ${sink.port}`].join(
    '\n',
  );
}

/**
 * A `webhooks:` section with one webhook, signed with the secret in the environment variable
 * `secretVariable` (referenced as `${VARIABLE}`, as in production). `risk: read` runs it without an
 * approval card, which suits tests that are about what happens after the call.
 */
export function webhookSection(input: {
  name: string;
  url: string;
  secretVariable: string;
  risk?: 'read' | 'write';
}): string {
  return [
    'webhooks:',
    `  ${input.name}:`,
    `    url: ${input.url}`,
    `    secret: $${'{'}${input.secretVariable}}`,
    `    risk: ${input.risk ?? 'write'}`,
  ].join('\n');
}

/** Write a spine.config.yaml made of these top-level sections to a new file; returns its path. */
export function writeSpineConfig(...sections: string[]): string {
  const path = join(tmpdir(), `${uniqueSchema('spine-config')}.yaml`);
  writeFileSync(path, `${sections.filter(Boolean).join('\n')}\n`);
  return path;
}

/**
 * The environment a Spine needs to send its e-mail to `sink`, keeping whatever else a test's own
 * SPINE_CONFIG file says (it must not have an `email:` section of its own).
 */
export function smtpEnv(sink: SmtpSink, env: Record<string, string> = {}): Record<string, string> {
  const own = env.SPINE_CONFIG ? readFileSync(env.SPINE_CONFIG, 'utf8') : '';
  if (/^email:/m.test(own)) throw new Error(`${env.SPINE_CONFIG} configures e-mail itself`);
  return { ...env, SPINE_CONFIG: writeSpineConfig(own.trimEnd(), smtpEmailSection(sink)) };
}
