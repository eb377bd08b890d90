import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Database } from '../db/database.ts';
import { type AnchorStore, FileAnchorStore } from '../ledger/anchors.ts';
import { auditLedger, type LedgerAudit } from '../ledger/ledger-audit.ts';
import { LedgerKey } from '../ledger/ledger-key.ts';
import { type Every, LedgerWitness } from '../ledger/ledger-witness.ts';
import type { Config } from './config.ts';
import { keepFirstKey } from './memory-setup.ts';

/** Where the ledger's key and anchors are kept: outside the database, in the data directory. */
export interface LedgerFiles {
  /** `<SPINE_DATA_DIR>/ledger.key`, mode 0600, generated on first start. */
  keyFile: string;
  /** `<SPINE_DATA_DIR>/ledger-anchors.jsonl`, one signed anchor per line. */
  anchorsFile: string;
}

export function ledgerFiles(config: Config): LedgerFiles {
  const dir = config.database.dataDir.replace(/\/+$/, '') || '.';
  return { keyFile: join(dir, 'ledger.key'), anchorsFile: join(dir, 'ledger-anchors.jsonl') };
}

/** The ledger key if one exists: `spine log --verify` checks with it and never makes one. */
export function readLedgerKey(files: LedgerFiles): LedgerKey | undefined {
  if (!existsSync(files.keyFile)) return undefined;
  return new LedgerKey(readFileSync(files.keyFile, 'utf8').trim());
}

/**
 * The ledger key, generated on first start and kept (mode 0600) in `<SPINE_DATA_DIR>/ledger.key`.
 * Processes starting together on one data directory keep the same key (`keepFirstKey`).
 */
export function resolveLedgerKey(files: LedgerFiles, logger: Logger): LedgerKey {
  const existing = readLedgerKey(files);
  if (existing) return existing;
  mkdirSync(dirname(files.keyFile), { recursive: true });
  const generated = randomBytes(32).toString('base64url');
  const key = keepFirstKey(files.keyFile, generated);
  if (key === generated)
    logger.info(
      { file: files.keyFile },
      'generated the ledger key: keep a copy apart from the database, `spine log --verify` needs it',
    );
  return new LedgerKey(key);
}

/** The witness a long-running Spine starts: MACs each minute, an anchor each hour and at shutdown. */
export function createLedgerWitness(input: {
  config: Config;
  db: Database;
  clock: Clock;
  logger: Logger;
  anchors?: AnchorStore;
  every?: Every;
}): LedgerWitness {
  const files = ledgerFiles(input.config);
  return new LedgerWitness({
    db: input.db.pool,
    schema: input.db.schema,
    key: () => resolveLedgerKey(files, input.logger),
    anchors: input.anchors ?? new FileAnchorStore(files.anchorsFile),
    clock: input.clock,
    logger: input.logger,
    ...(input.every ? { every: input.every } : {}),
  });
}

/** `spine log --verify`: the keyed audit with this data directory's key and newest anchor. */
export async function auditSpineLedger(config: Config, db: Database): Promise<LedgerAudit> {
  const files = ledgerFiles(config);
  return auditLedger(db.pool, {
    key: readLedgerKey(files),
    anchor: await new FileAnchorStore(files.anchorsFile).latest(db.schema),
    keyFile: files.keyFile,
  });
}
