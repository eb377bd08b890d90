import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalEmbedder } from '../../memory/local-embedder.ts';

/**
 * A fake OpenAI-compatible `/v1/embeddings` endpoint on loopback. Its vectors are the local
 * embedder's (so similar texts are near, and recall can be checked), at `dimension`. It answers in
 * the encoding the client asks for (the OpenAI SDK asks for base64 by default) and records calls.
 */
export class FakeEmbeddingsServer {
  readonly calls: Array<{ model: string; inputs: string[]; authorization: string | undefined }> = [];
  readonly #embedder: LocalEmbedder;
  #server: Server | undefined;
  /** When set, every request fails with this HTTP status. */
  failWith: number | null = null;

  constructor(readonly dimension = 64) {
    this.#embedder = new LocalEmbedder({ dimension });
  }

  async start(): Promise<string> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        void this.#answer(
          request.url ?? '',
          Buffer.concat(chunks).toString('utf8'),
          request.headers.authorization,
        )
          .then(({ status, body }) => {
            response.writeHead(status, { 'content-type': 'application/json' });
            response.end(JSON.stringify(body));
          })
          .catch(() => {
            response.writeHead(500);
            response.end();
          });
      });
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #answer(url: string, raw: string, authorization: string | undefined) {
    if (!url.endsWith('/embeddings')) return { status: 404, body: { error: { message: 'not found' } } };
    if (this.failWith !== null) return { status: this.failWith, body: { error: { message: 'unavailable' } } };
    const request = JSON.parse(raw) as { model: string; input: string | string[]; encoding_format?: string };
    const inputs = Array.isArray(request.input) ? request.input : [request.input];
    this.calls.push({ model: request.model, inputs, authorization });
    const vectors = await this.#embedder.embedDocuments(inputs);
    return {
      status: 200,
      body: {
        object: 'list',
        model: request.model,
        data: vectors.map((vector, index) => ({
          object: 'embedding',
          index,
          embedding:
            request.encoding_format === 'base64'
              ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
              : vector,
        })),
        usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
      },
    };
  }
}
