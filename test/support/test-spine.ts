import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { loadConfig } from '../../app/config.ts';
import type { InjectedModels } from '../../app/model-wiring.ts';
import { createSpine, type Spine } from '../../app/spine.ts';
import type { Clock } from '../../core/clock.ts';
import type { Database } from '../../db/database.ts';
import { RecordingChat } from '../fakes/recording-chat.ts';

export interface TestSpine {
  spine: Spine;
  chat: RecordingChat;
  outboxDir: string;
  /** Say something in the console channel as the operator, and wait until Spine settles. */
  say(text: string, conversation?: string): Promise<void>;
}

/** A Spine on a test database with a recording chat adapter in place of the console. */
export async function createTestSpine(
  db: Database,
  options: { clock?: Clock; env?: Record<string, string>; models?: InjectedModels; logger?: Logger } = {},
): Promise<TestSpine> {
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-data-'));
  const config = loadConfig({
    SPINE_DATA_DIR: dataDir,
    SPINE_OPERATOR_NAME: 'Ada',
    SPINE_TIMEZONE: 'UTC',
    ...options.env,
  });
  const spine = await createSpine(config, {
    logger: options.logger ?? pino({ level: 'silent' }),
    database: { ...db, close: async () => {} },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.models ? { models: options.models } : {}),
  });
  const chat = new RecordingChat();
  spine.registerAdapter('console', chat);
  let delivery = 0;
  return {
    spine,
    chat,
    outboxDir: config.email.outboxDir,
    async say(text: string, conversation = 'local') {
      delivery += 1;
      await spine.intake.handleMessage({
        channel: 'console',
        deliveryId: `test-${process.pid}-${Date.now()}-${delivery}`,
        userId: 'local',
        text,
        thread: { channel: 'console', conversation },
      });
      await spine.runner.idle();
    },
  };
}
