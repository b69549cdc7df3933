/**
 * A raw HTTP/2 client for the flood tests: frames written on the wire as an attacker writes
 * them, with no client library in between. node:http2's client is no good for a Rapid Reset
 * test: its nghttp2 cancels a stream whose HEADERS are still queued when the stream is reset
 * (and queues those past the server's concurrency limit), so how many streams reach the server
 * depends on how fast its socket drains. Here every HEADERS frame is on the wire, followed by
 * its RST_STREAM.
 */
import tls from 'node:tls';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const enum Type {
  Headers = 0x1,
  RstStream = 0x3,
  Settings = 0x4,
  Ping = 0x6,
  Goaway = 0x7,
}
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
const CANCEL = 0x8;

export interface Goaway {
  code: number;
  lastStreamId: number;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK: a literal field without indexing, its name from the static table (RFC 7541 6.2.2). */
function literal(nameIndex: number, value: string): Buffer {
  const v = Buffer.from(value, 'latin1');
  if (nameIndex > 14 || v.length > 126) throw new Error('literal: index or value too long for this encoder');
  return Buffer.concat([Buffer.from([nameIndex, v.length]), v]);
}

/** A GET's header block: `:method GET`, `:scheme https` (static 2 and 7), `:path`, `:authority`. */
function getBlock(path: string, authority: string): Buffer {
  return Buffer.concat([Buffer.from([0x82, 0x87]), literal(4, path), literal(1, authority)]);
}

export class RawH2 {
  readonly socket: tls.TLSSocket;
  goaway: Goaway | undefined;
  closed = false;
  /** Streams whose response HEADERS arrived. */
  readonly answered = new Set<number>();
  nextStreamId = 1;
  /** PING answers received. */
  pings = 0;
  #buf: Buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];

  private constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  /** TLS with ALPN h2 only, the preface and an empty SETTINGS. */
  static connect(port: number, ca: string, servername = 'localhost'): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2'] }, () => {
        socket.removeListener('error', reject);
        if (socket.alpnProtocol !== 'h2') return reject(new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`));
        socket.write(Buffer.concat([PREFACE, frame(Type.Settings, 0, 0)]));
        resolve(new RawH2(socket));
      });
      socket.once('error', reject);
    });
  }

  /**
   * Open `count` GET streams and reset each at once (HEADERS, then RST_STREAM CANCEL), `batch`
   * streams per write. With `paced`, each write waits for the answer to a PING sent after it, so
   * the server has taken in one flight before the next comes (node:http2 keeps a stream it has
   * read until its JavaScript side closed it; a whole flood in one read goes past the concurrency
   * limit there, and node:http2 ends the session itself with INTERNAL_ERROR).
   */
  async openAndReset(count: number, path: string, opts: { authority?: string; batch?: number; paced?: boolean } = {}): Promise<number> {
    const { authority = 'localhost', batch = 50, paced = true } = opts;
    let sent = 0;
    while (sent < count && this.goaway === undefined && !this.closed) {
      const frames: Buffer[] = [];
      for (let i = 0; i < batch && sent < count; i++, sent++) {
        const id = this.#takeId();
        frames.push(frame(Type.Headers, END_HEADERS | END_STREAM, id, getBlock(path, authority)), frame(Type.RstStream, 0, id, u32(CANCEL)));
      }
      if (!paced) {
        await new Promise<void>((resolve) => this.socket.write(Buffer.concat(frames), () => resolve()));
        continue;
      }
      const acked = this.pings + 1;
      frames.push(frame(Type.Ping, 0, 0, Buffer.alloc(8)));
      this.socket.write(Buffer.concat(frames));
      await this.until(() => this.pings >= acked || this.goaway !== undefined, 10_000);
    }
    return sent;
  }

  /** One GET; its stream id. Whether it was answered shows in `answered`. */
  get(path: string, authority = 'localhost'): number {
    const id = this.#takeId();
    this.socket.write(frame(Type.Headers, END_HEADERS | END_STREAM, id, getBlock(path, authority)));
    return id;
  }

  /** Resolves once `done()` holds, the connection closed, or `timeoutMs` passed. */
  until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) finish(true);
        else if (this.closed) finish(done());
        else this.#waiters.push(check);
      };
      const timer = setTimeout(() => finish(done()), timeoutMs);
      let over = false;
      const finish = (v: boolean): void => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        resolve(v);
      };
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  #takeId(): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    return id;
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= 9) {
      const length = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + length) break;
      const type = this.#buf[3]!;
      const flags = this.#buf[4]!;
      const streamId = this.#buf.readUInt32BE(5) & 0x7fffffff;
      const payload = this.#buf.subarray(9, 9 + length);
      this.#buf = this.#buf.subarray(9 + length);
      if (type === Type.Settings && (flags & ACK) === 0) this.socket.write(frame(Type.Settings, ACK, 0));
      else if (type === Type.Ping) {
        if ((flags & ACK) === 0) this.socket.write(frame(Type.Ping, ACK, 0, payload));
        else this.pings++;
      }
      else if (type === Type.Goaway) this.goaway = { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
      else if (type === Type.Headers) this.answered.add(streamId);
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
