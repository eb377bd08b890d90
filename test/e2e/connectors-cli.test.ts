import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSpine } from '../support/spine-process.ts';

const MCP_SERVER = fileURLToPath(new URL('../fakes/fake-mcp-server.ts', import.meta.url));

describe('spine connectors', () => {
  // A child Spine that starts an MCP child of its own: slow on a busy two-core machine.
  it('lists configured connectors with their operations and health (MCP tools included) without showing secrets', {
    timeout: 240_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spine-connectors-cli-'));
    const config = join(dir, 'spine.config.yaml');
    writeFileSync(
      config,
      [
        'webhooks:',
        '  crm:',
        '    url: http://127.0.0.1:9/leads',
        `    secret: $${'{'}CRM_SECRET}`,
        '    undo:',
        '      url: http://127.0.0.1:9/leads/undo',
        'mcp:',
        '  helpdesk:',
        `    command: ${process.execPath}`,
        `    args: ["--import", "tsx", "${MCP_SERVER}"]`,
        // Its readOnlyHint counts only because the operator trusts it.
        '    trusted: true',
        '',
      ].join('\n'),
    );
    const env = {
      SPINE_DATA_DIR: join(dir, 'data'),
      SPINE_CONFIG: config,
      CRM_SECRET: 'a-secret-long-enough-for-hmac',
      PORT: '9',
    };
    const run = await runSpine(['connectors'], '', env, 230_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Configuration: ${config}`);
    expect(run.stdout).toMatch(
      /• email — E-mail\n\s+operations: send_email \(write\), reply_email \(write\)\n\s+circuit: closed/,
    );
    expect(run.stdout).toMatch(/• crm — Call a webhook\n\s+operations: send \(write, undoable\)/);
    expect(run.stdout).toContain('lookup_customer (read)');
    expect(run.stdout).toContain('delete_ticket (destructive)');
    expect(run.stdout).not.toContain('a-secret-long-enough-for-hmac');
  });

  it('refuses to start with a broken config file, naming the field and the line', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spine-connectors-cli-'));
    const config = join(dir, 'spine.config.yaml');
    writeFileSync(config, 'webhooks:\n  crm:\n    url: ftp://example.com\n    secret: short\n');
    const run = await runSpine(['connectors'], '', {
      SPINE_DATA_DIR: join(dir, 'data'),
      SPINE_CONFIG: config,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('webhooks.crm.url (line 3): must be an http(s) URL');
    expect(run.stderr).toContain('webhooks.crm.secret (line 4): must be at least 16 characters');
  });
});
