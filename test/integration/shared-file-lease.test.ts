import { describe, expect, it } from 'vitest';
import type { SharedFile } from '../../bot/memory-commands.ts';
import { DATABASE_KINDS } from '../support/databases.ts';
import { useTestSpines } from '../support/spine-suite.ts';
import type { TestSpine } from '../support/test-spine.ts';

const THREAD = { channel: 'console' as const, conversation: 'local' };
const TEXT = 'Supplier list.\n\nAcme Paper delivers on Tuesdays. Their account manager is Rosa Diaz.\n';

function sharedFile(onDownload?: () => Promise<void>): SharedFile {
  const bytes = new TextEncoder().encode(TEXT);
  return {
    name: 'suppliers.txt',
    size: bytes.length,
    link: 'console:suppliers',
    download: async () => {
      await onDownload?.();
      return bytes;
    },
  };
}

/**
 * Counts every download of the file, wherever it is shared from. Stored documents collapse a
 * repeated read of the same text, so "read once" is counted here, where nothing is deduplicated.
 */
function countedFile(): { file(onDownload?: () => Promise<void>): SharedFile; readonly downloads: number } {
  let downloads = 0;
  return {
    file: (onDownload) =>
      sharedFile(async () => {
        downloads += 1;
        await onDownload?.();
      }),
    get downloads() {
      return downloads;
    },
  };
}

async function share(test: TestSpine, deliveryId: string, file: SharedFile) {
  return test.spine.intake.handleMessage({
    channel: 'console',
    deliveryId,
    userId: 'local',
    text: '',
    thread: THREAD,
    file,
  });
}

async function documents(test: TestSpine): Promise<number> {
  const result = await test.spine.db.pool.query(
    `SELECT count(*)::int AS n FROM memories
     WHERE kind = 'document' AND document_id IS NULL AND source = 'document:suppliers.txt'`,
  );
  return Number(result.rows[0]?.n);
}

describe.each(DATABASE_KINDS)(
  'a shared file is read once per delivery, and again after a crash, on %s Postgres',
  (kind) => {
    const spines = useTestSpines(kind);

    it('treats a redelivery while the file is being read as a duplicate, and one after as well', async () => {
      const test = await spines.fresh();
      const suppliers = countedFile();
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started: () => void = () => {};
      const downloading = new Promise<void>((resolve) => {
        started = resolve;
      });
      const first = share(
        test,
        'F1',
        suppliers.file(async () => {
          started();
          await held;
        }),
      );
      await downloading;
      // Slack retries while the first delivery is still reading: the live lease makes it a duplicate.
      expect(await share(test, 'F1', suppliers.file())).toEqual({ kind: 'command', duplicate: true });
      release();
      expect(await first).toEqual({ kind: 'command' });
      expect(await documents(test)).toBe(1);
      expect(await share(test, 'F1', suppliers.file())).toEqual({ kind: 'command', duplicate: true });
      expect(await documents(test)).toBe(1);
      expect(suppliers.downloads).toBe(1);
    });

    it('reads the file again when the process reading it died (its lease lapsed)', async () => {
      const test = await spines.fresh();
      const suppliers = countedFile();
      // A process claimed the delivery, started reading and crashed: its lease runs out unrenewed.
      expect(await test.spine.repos.inbox.claim('console', 'F2', 45_000)).toEqual({ takenOver: false });
      expect(await share(test, 'F2', suppliers.file())).toEqual({ kind: 'command', duplicate: true });
      await test.spine.db.pool.query(
        `UPDATE inbox SET lease_until = now() - interval '1 second' WHERE delivery_id = 'F2'`,
      );
      // The platform's redelivery takes it over and the document is stored once.
      expect(await share(test, 'F2', suppliers.file())).toEqual({ kind: 'command' });
      expect(await documents(test)).toBe(1);
      expect(test.chat.texts().at(-1)).toMatch(/Done: suppliers\.txt is in my memory/);
      expect(await share(test, 'F2', suppliers.file())).toEqual({ kind: 'command', duplicate: true });
      expect(suppliers.downloads).toBe(1);
    });

    it('lets a redelivery try again when the work failed unexpectedly (chat down mid-read)', async () => {
      const test = await spines.fresh();
      const post = test.chat.post.bind(test.chat);
      test.chat.post = async () => {
        throw new Error('chat is down');
      };
      await expect(share(test, 'F3', sharedFile())).rejects.toThrow(/chat is down/);
      test.chat.post = post;
      // The claim was released, so the platform's redelivery reads the file.
      expect(await share(test, 'F3', sharedFile())).toEqual({ kind: 'command' });
      expect(await documents(test)).toBe(1);
    });
  },
);
