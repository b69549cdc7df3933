/**
 * The raw logging upstream of the end-to-end replay: a plain TCP server (no node:http) that
 * keeps every byte Baton forwarded, per connection and in arrival order, reads it with llhttp
 * (test/fuzz/llhttp.ts) and answers each request it reads:
 *
 * - `/__replay/response/<n>`: the n-th response case's bytes as they are, then the connection's
 *   end (unless the case says its answer keeps the connection: response-rule.ts, `keepOpen`);
 * - `/__replay/marker/<n>`: a small answer naming n (the request that follows a response case);
 * - anything else: an empty 200 carrying `x-replay-echo: <k>`, k numbering the requests it read.
 *
 * It is reached through test/differential/relay.js, the app process Baton runs.
 */

import net from 'node:net';
import { llhttpParse, type LlMessage } from '../fuzz/llhttp.js';

/** A request as the upstream read it off one connection. */
export interface Forwarded {
  /** llhttp's reading of it (offsets are the connection's). */
  message: LlMessage;
  /** Arrival order of its first byte, across all connections. */
  seq: number;
  conn: UpstreamConn;
  /** The k of `x-replay-echo` it was answered with (-1: not answered, it did not end). */
  echo: number;
}

export interface UpstreamConn {
  id: number;
  bytes: Buffer;
  /** Requests read so far, in order. */
  requests: Forwarded[];
  /** llhttp refused a byte at this offset: the connection was out of step. `seq`: when it was read. */
  error: { code: string; reason: string; offset: number; seq: number } | undefined;
  /** llhttp read an upgrade request: what follows is not HTTP. */
  upgraded: boolean;
  /** The bytes end inside a request (read when the run ends). */
  pending: boolean;
  closed: boolean;
  /** The upstream ended the connection (after a response case): what comes after is never read. */
  hungUp: boolean;
}

const MARKER_BODY = 'marker';

/** A response case as the upstream serves it: its bytes, then the connection's end unless `keepOpen`. */
export interface ServedCase {
  bytes: Buffer;
  keepOpen: boolean;
}

export class RawUpstream {
  readonly conns: UpstreamConn[] = [];
  readonly #server: net.Server;
  #responseCase: (n: number) => ServedCase | undefined = () => undefined;
  /** Where each connection's next unread request starts. */
  readonly #from = new Map<UpstreamConn, number>();
  /** Per connection: [offset, seq] of each chunk, to date a request's first byte. */
  readonly #chunks = new Map<UpstreamConn, Array<[number, number]>>();
  readonly #sockets = new Set<net.Socket>();
  #seq = 0;
  #echo = 0;
  port = 0;

  constructor() {
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  /** What `/__replay/response/<n>` is answered with. */
  serve(responseCase: (n: number) => ServedCase | undefined): void {
    this.#responseCase = responseCase;
  }

  listen(): Promise<number> {
    return new Promise((resolve) => {
      this.#server.listen(0, '127.0.0.1', () => {
        this.port = (this.#server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Where the reading has got to: {@link all} and {@link refused} from here on leave out what came before. */
  mark(): number {
    return this.#seq;
  }

  /** Every request read since `mark`, including those whose bytes ended unfinished (read now, not answered). */
  all(mark = 0): Forwarded[] {
    const out: Forwarded[] = [];
    for (const conn of this.conns) {
      this.#readTail(conn);
      for (const f of conn.requests) if (f.seq >= mark) out.push(f);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** The connections on which llhttp refused what Baton forwarded, since `mark`. */
  refused(mark = 0): UpstreamConn[] {
    return this.conns.filter((c) => c.error !== undefined && c.error.seq >= mark);
  }

  #accept(socket: net.Socket): void {
    const conn: UpstreamConn = { id: this.conns.length, bytes: Buffer.alloc(0), requests: [], error: undefined, upgraded: false, pending: false, closed: false, hungUp: false };
    this.conns.push(conn);
    this.#from.set(conn, 0);
    this.#chunks.set(conn, []);
    this.#sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      if (conn.hungUp) return;
      this.#chunks.get(conn)!.push([conn.bytes.length, this.#seq++]);
      conn.bytes = Buffer.concat([conn.bytes, chunk]);
      this.#read(conn, socket);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      conn.closed = true;
      this.#sockets.delete(socket);
    });
  }

  /** Reads the requests that ended since the last read, and answers them. */
  #read(conn: UpstreamConn, socket: net.Socket): void {
    if (conn.error !== undefined || conn.upgraded) return;
    const from = this.#from.get(conn)!;
    const ll = llhttpParse(conn.bytes.subarray(from), 'request', 'GET', false);
    for (const m of ll.messages) {
      if (conn.hungUp) return;
      if (m.end === -1) break;
      const f = this.#record(conn, m, from, this.#from.get(conn)!);
      this.#from.set(conn, f.message.end);
      f.echo = this.#echo++;
      this.#answer(f, socket);
      if (m.upgrade) {
        conn.upgraded = true;
        return;
      }
    }
    if (ll.error !== undefined) {
      conn.error = { ...ll.error, offset: ll.error.offset + this.#from.get(conn)!, seq: this.#seq };
      // A head llhttp refuses: the upstream stops reading, as a server answering 400 would.
      socket.end();
    }
  }

  /** The bytes left unread: a request that never ended (Baton gave up on it). */
  #readTail(conn: UpstreamConn): void {
    if (conn.error !== undefined || conn.upgraded || conn.pending || conn.hungUp) return;
    const from = this.#from.get(conn)!;
    if (from >= conn.bytes.length) return;
    const ll = llhttpParse(conn.bytes.subarray(from), 'request', 'GET', false);
    const m = ll.messages[0];
    if (ll.error !== undefined) conn.error = { ...ll.error, offset: ll.error.offset + from, seq: this.#seq };
    else if (m !== undefined) {
      this.#record(conn, m, from, from);
      conn.pending = true;
    } else conn.pending = true;
  }

  /** `m` as read from `base`; its first byte is at `start`. */
  #record(conn: UpstreamConn, m: LlMessage, base: number, start: number): Forwarded {
    const message: LlMessage = { ...m, headEnd: m.headEnd + base, end: m.end === -1 ? -1 : m.end + base };
    const chunks = this.#chunks.get(conn)!;
    let seq = chunks[0]?.[1] ?? 0;
    for (const [offset, s] of chunks) if (offset <= start) seq = s;
    // Requests on one connection follow each other: order them by their first byte's chunk, then offset.
    const f: Forwarded = { message, seq: seq + start / 1e9, conn, echo: -1 };
    conn.requests.push(f);
    return f;
  }

  #answer(f: Forwarded, socket: net.Socket): void {
    const url = f.message.url ?? '';
    const response = /^\/__replay\/response\/(\d+)$/.exec(url);
    if (response !== null) {
      const served = this.#responseCase(Number(response[1]));
      if (served !== undefined) {
        if (served.keepOpen) socket.write(served.bytes);
        else {
          f.conn.hungUp = true;
          socket.end(served.bytes);
        }
        return;
      }
    }
    const marker = /^\/__replay\/marker\/(\d+)$/.exec(url);
    if (marker !== null) {
      socket.write(`HTTP/1.1 200 OK\r\nx-replay-marker: ${marker[1]}\r\ncontent-length: ${MARKER_BODY.length}\r\n\r\n${MARKER_BODY}`);
      return;
    }
    socket.write(`HTTP/1.1 200 OK\r\nx-replay-echo: ${f.echo}\r\ncontent-length: 0\r\n\r\n`);
  }
}

export { MARKER_BODY };
