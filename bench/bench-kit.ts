/** Small helpers the benchmarks share (this file is not a benchmark: bench/run.ts runs *.bench.ts). */
import { type Agent, request } from 'node:http';
import { signSlackRequest } from '../bot/slack/slack-signature.ts';

/** `--name value` from a benchmark's arguments, or `fallback`. */
export function flagValue(args: string[], name: string, fallback: string): string;
export function flagValue(args: string[], name: string): string | undefined;
export function flagValue(args: string[], name: string, fallback?: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? (args[index + 1] ?? fallback) : fallback;
}

/** The nearest-rank percentile of ascending `sorted` values (NaN when there are none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The server Postgres the benchmarks use unless `--url` says otherwise. */
export const BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/spine_test';

/** An HTTP request ready to send: body and headers. */
export interface BenchRequest {
  body: string;
  headers: Record<string, string>;
}

/**
 * A signed Slack Events API request: by default a DM (`message.im`) from U123 with `text`. `raw`
 * replaces the body (junk), `secret` and `timestamp` forge or age the signature.
 */
export function signedSlackEvent(input: {
  signingSecret: string;
  eventId: string;
  text: string;
  type?: string;
  timestamp?: number;
  secret?: string;
  raw?: string;
}): BenchRequest {
  const ts = `1700000000.${input.eventId.replace(/\D/g, '').padStart(6, '0').slice(-6)}`;
  const body =
    input.raw ??
    JSON.stringify({
      team_id: 'T1',
      api_app_id: 'A1',
      event: {
        type: input.type ?? 'message',
        channel_type: 'im',
        channel: 'D1',
        user: 'U123',
        text: input.text,
        ts,
        event_ts: ts,
      },
      type: 'event_callback',
      event_id: input.eventId,
      event_time: Math.floor(Date.now() / 1000),
    });
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(input.secret ?? input.signingSecret, timestamp, body),
    },
  };
}

/** A steady-rate benchmark's options: `--rate N` per second for `--seconds N`, against `--url`. */
export interface RateOptions {
  rate: number;
  seconds: number;
  url: string;
}

export function rateOptions(args: string[], defaults: { rate: number; seconds: number }): RateOptions {
  return {
    rate: Number(flagValue(args, 'rate', String(defaults.rate))),
    seconds: Number(flagValue(args, 'seconds', String(defaults.seconds))),
    url: flagValue(args, 'url', BENCH_DATABASE_URL),
  };
}

/** An HTTP answer: its status (0 when the connection failed) and how long it took. */
export interface Timed {
  status: number;
  ms: number;
}

/** POST `bench` to 127.0.0.1:`port``path` and time it until the whole answer has arrived. */
export function postTimed(
  port: number,
  path: string,
  agent: Agent,
  bench: BenchRequest,
  extraHeaders: Record<string, string> = {},
): Promise<Timed> {
  const started = performance.now();
  const headers = { ...bench.headers, ...extraHeaders };
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers, agent }, (response) => {
      response.resume();
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }),
      );
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(bench.body);
  });
}
