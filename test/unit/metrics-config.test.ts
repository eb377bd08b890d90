import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { loadConnectorsConfig } from '../../app/connectors-config.ts';
import { DEFAULT_ALERT_RULES } from '../../ledger/alerts-config.ts';

function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'spine-metrics-config-')), 'spine.config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('metrics and alerts configuration', () => {
  it('turns every alert on with its defaults when the file says nothing', () => {
    expect(
      loadConnectorsConfig(configFile('email:\n  transport: file\n'), {}, { required: true }).alerts,
    ).toEqual(DEFAULT_ALERT_RULES);
    expect(loadConnectorsConfig('/nonexistent/spine.config.yaml', {}, { required: false }).alerts).toEqual(
      DEFAULT_ALERT_RULES,
    );
  });

  it('reads thresholds, turned-off rules and a fixed spend budget', () => {
    const path = configFile(
      [
        'alerts:',
        '  everySeconds: 30',
        '  moneyActionFailed: false',
        '  failuresPerDay: 10',
        '  digestUndeliveredMinutes: false',
        '  circuitOpenMinutes: 20',
        '  spendOverBudget: 2.5',
      ].join('\n'),
    );
    expect(loadConnectorsConfig(path, {}, { required: true }).alerts).toEqual({
      intervalMs: 30_000,
      moneyActionFailed: false,
      failuresPerDay: 10,
      digestUndeliveredMinutes: null,
      circuitOpenMinutes: 20,
      spendOverBudget: 2.5,
    });
  });

  it('lists a bad alert setting with its line', () => {
    const path = configFile('alerts:\n  failuresPerDay: 0\n  nonsense: 1\n');
    expect(() => loadConnectorsConfig(path, {}, { required: true })).toThrow(
      /alerts\.failuresPerDay \(line 2\)/,
    );
    expect(() => loadConnectorsConfig(path, {}, { required: true })).toThrow(
      /alerts \(line 1\): Unrecognized key/,
    );
  });

  it('takes minutes saved from the defaults, then the file, then SPINE_TIME_SAVED_MINUTES', () => {
    const path = configFile('metrics:\n  minutesSaved:\n    email.send_email: 8\n    stripe.refund: 10\n');
    const config = loadConfig({
      SPINE_CONFIG: path,
      SPINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'spine-data-')),
      SPINE_TIME_SAVED_MINUTES: 'stripe.refund=12',
    });
    expect(config.digest.minutesSaved).toMatchObject({
      'email.send_email': 8,
      'stripe.refund': 12,
      'calendar.create_event': 4,
    });
    expect(() =>
      loadConnectorsConfig(configFile('metrics:\n  minutesSaved:\n    send: 3\n'), {}, { required: true }),
    ).toThrow(/keys are connector\.operation/);
  });

  it('reads SPINE_METRICS_TOKEN and refuses a short one', () => {
    expect(loadConfig({ SPINE_METRICS_TOKEN: 'a-long-enough-token' }).metrics.token).toBe(
      'a-long-enough-token',
    );
    expect(loadConfig({}).metrics.token).toBeUndefined();
    expect(() => loadConfig({ SPINE_METRICS_TOKEN: 'short' })).toThrow(
      /SPINE_METRICS_TOKEN: must be at least 16 characters/,
    );
  });
});
