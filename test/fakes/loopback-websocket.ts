import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/**
 * The server side of one WebSocket (RFC 6455) on a socket handed over by an HTTP `upgrade`: enough
 * for a fake Slack Socket Mode endpoint (text frames, ping → pong, the close handshake; no
 * extensions). The project has no WebSocket server package, and this keeps the fake dependency-free.
 */
export class LoopbackWebSocket {
  #buffer = Buffer.alloc(0);
  #fragments: Buffer[] = [];
  #open = true;
  readonly #socket: Duplex;
  readonly #onText: (text: string) => void;
  readonly #onClose: () => void;

  private constructor(socket: Duplex, onText: (text: string) => void, onClose: () => void) {
    this.#socket = socket;
    this.#onText = onText;
    this.#onClose = onClose;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('close', () => this.#closed());
    socket.on('error', () => this.#closed());
  }

  /** Complete the opening handshake, or answer 400 and return null if this is not a WebSocket request. */
  static accept(
    request: IncomingMessage,
    socket: Duplex,
    handlers: { onText: (text: string) => void; onClose: () => void },
  ): LoopbackWebSocket | null {
    const key = request.headers['sec-websocket-key'];
    if (typeof key !== 'string' || request.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return null;
    }
    const acceptKey = createHash('sha1').update(`${key}${HANDSHAKE_GUID}`).digest('base64');
    socket.write(
      [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${acceptKey}`,
        '',
        '',
      ].join('\r\n'),
    );
    return new LoopbackWebSocket(socket, handlers.onText, handlers.onClose);
  }

  get isOpen(): boolean {
    return this.#open;
  }

  sendText(text: string): void {
    if (this.#open) this.#socket.write(frame(OPCODE.text, Buffer.from(text, 'utf8')));
  }

  /** Start the close handshake (the client answers with its close frame, then the socket ends). */
  close(code = 1000): void {
    if (!this.#open) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.#socket.write(frame(OPCODE.close, payload));
    this.#socket.end();
    this.#closed();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const parsed = parseFrame(this.#buffer);
      if (!parsed) return;
      this.#buffer = this.#buffer.subarray(parsed.length);
      this.#dispatch(parsed.fin, parsed.opcode, parsed.payload);
    }
  }

  #dispatch(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OPCODE.ping:
        this.#socket.write(frame(OPCODE.pong, payload));
        return;
      case OPCODE.pong:
        return;
      case OPCODE.close:
        // Echo the close frame, then end the TCP connection as the server must.
        if (this.#open) this.#socket.write(frame(OPCODE.close, payload.subarray(0, 2)));
        this.#socket.end();
        this.#closed();
        return;
      default: {
        this.#fragments.push(payload);
        if (!fin) return;
        const message = Buffer.concat(this.#fragments);
        this.#fragments = [];
        this.#onText(message.toString('utf8'));
      }
    }
  }

  #closed(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#onClose();
  }
}

/** A server frame: final, unmasked. */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([0x80 | opcode, length]);
  } else if (length < 65_536) {
    header = Buffer.alloc(4);
    header.writeUInt8(0x80 | opcode, 0);
    header.writeUInt8(126, 1);
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header.writeUInt8(0x80 | opcode, 0);
    header.writeUInt8(127, 1);
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** One client frame (always masked) from the front of `buffer`, or null if it is not all there yet. */
function parseFrame(
  buffer: Buffer,
): { fin: boolean; opcode: number; payload: Buffer; length: number } | null {
  if (buffer.length < 2) return null;
  const first = buffer.readUInt8(0);
  const second = buffer.readUInt8(1);
  let offset = 2;
  let length = second & 0x7f;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  const masked = (second & 0x80) !== 0;
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return null;
  const payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (masked) {
    for (let index = 0; index < payload.length; index += 1) {
      payload[index] = (payload[index] ?? 0) ^ (buffer[maskOffset + (index % 4)] ?? 0);
    }
  }
  return { fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload, length: offset + length };
}
