import { afterAll } from 'vitest';
import { SmtpSink } from '../fakes/smtp-sink.ts';

/** SMTP sinks for a describe block: `start()` gives a new, listening one; all close after the block. */
export function useSmtpSinks(): { start(): Promise<SmtpSink> } {
  const sinks: SmtpSink[] = [];
  afterAll(async () => {
    for (const sink of sinks.splice(0)) await sink.close();
  });
  return {
    async start() {
      const sink = new SmtpSink();
      sinks.push(sink);
      await sink.start();
      return sink;
    },
  };
}
