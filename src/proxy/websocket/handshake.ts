import net from 'node:net';
import type { Duplex } from 'node:stream';
import { parseResponseHead } from '../../http1/response-head.js';
import { ChunkedDecoder } from '../../http1/chunked.js';
import { requestHead } from '../../http1/head-writer.js';
import type { HeadLimits, ResponseHead } from '../../http1/types.js';
import type { Upstream } from '../../upstream/upstream.js';
import type { ReadBuffers } from '../../upstream/read-buffers.js';
import { WsTunnel } from './tunnel.js';

export type UpgradeOutcome = 'open' | 'refused' | 'failed';

const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 41\r\nconnection: close\r\n\r\n502 The application could not be reached\n';
const LIMITS: HeadLimits = { maxHeadBytes: 64 * 1024, maxHeaders: 1000 };
const NONE = { kind: 'none' } as const;

export interface HandshakeOptions {
  path: string;
  /** The fields to send: the forwarded ones plus Connection: Upgrade and Upgrade: websocket. */
  headers: readonly string[];
  timeoutMs: number;
  buffers: ReadBuffers;
  /** `answer`: the app's status (101 when open) and, when open, the tunnel (for the access log). */
  done(outcome: UpgradeOutcome, error?: Error, answer?: { status: number; tunnel?: WsTunnel }): void;
}

/**
 * Forward a WebSocket handshake to the upstream and, once it answers 101, splice the two
 * sockets into a tunnel tracked on that upstream. The app's answer is parsed as strictly as
 * any response: what the plain path refuses gets the client a 502 (issue 17: 18 answers llhttp
 * rejects used to reach clients byte for byte). Bytes the client sent behind its request wait
 * until the 101: an app that refuses the upgrade never sees them (issue 17).
 *
 * The upstream side is read with `onread` into the upstream read buffers: no stream machinery
 * per message on the busiest side of a tunnel.
 */
export class Handshake {
  readonly #client: Duplex;
  readonly #target: Upstream;
  readonly #opts: HandshakeOptions;
  readonly #up: net.Socket;
  readonly #timer: NodeJS.Timeout;
  readonly #held: Buffer;
  #done: HandshakeOptions['done'];
  #state: 'head' | 'relaying' | 'tunnel' | 'over' = 'head';
  #pending: Buffer | undefined;
  /** A refused handshake's answer being relayed: how its body ends. */
  #answer: ResponseHead | undefined;
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined;
  #tunnel: WsTunnel | undefined;

  constructor(client: Duplex, held: Buffer, target: Upstream, opts: HandshakeOptions) {
    this.#client = client;
    this.#held = held;
    this.#target = target;
    this.#opts = opts;
    this.#done = opts.done;
    this.#up = net.connect({ host: target.host, port: target.port, noDelay: true, onread: { buffer: opts.buffers.shared, callback: this.#onRead } });
    this.#up.on('error', this.#upOnError);
    this.#up.on('end', this.#upOnEnd);
    this.#up.on('close', this.#upOnClose);
    this.#timer = setTimeout(this.#onTimeout, opts.timeoutMs);
    client.on('error', this.#clientOnError);
    client.on('close', this.#clientOnClose);
    // Whatever the client sends before the 101 waits in the socket until then.
    client.pause();
    this.#up.write(requestHead('GET', opts.path, opts.headers, NONE), 'latin1');
  }

  #onRead = (n: number, buffer: Buffer): boolean => {
    const chunk = buffer.subarray(0, n);
    switch (this.#state) {
      case 'tunnel':
        this.#tunnel!.fromUpstream(this.#opts.buffers.keep(chunk));
        break;
      case 'head':
        this.#head(chunk);
        break;
      case 'relaying':
        this.#relay(chunk, 0);
        break;
      case 'over':
        break;
    }
    return true;
  };

  #head(chunk: Buffer): void {
    const buf = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    const result = parseResponseHead(buf, 'GET', LIMITS);
    if (result.kind === 'incomplete') {
      this.#pending = this.#pending === undefined ? Buffer.from(buf) : buf;
      return;
    }
    this.#pending = undefined;
    if (result.kind === 'invalid') return this.#fail(new Error(`malformed handshake answer: ${result.reason}`));
    const { head: answer, size } = result;
    if (answer.status > 101 && answer.status < 200) {
      // Informational (103): the real answer follows.
      if (size < buf.length) this.#head(buf.subarray(size));
      return;
    }
    const client = this.#client;
    if (client.destroyed) return this.#fail(new Error('client closed during handshake'));
    // The app's answer, validated, goes to the client as it came.
    client.write(Buffer.from(buf.subarray(0, size)));
    if (answer.status === 101) return this.#open(size < buf.length ? Buffer.from(buf.subarray(size)) : undefined);
    // The app declined the upgrade (404, 401...): relay its answer, then close.
    this.#state = 'relaying';
    this.#answer = answer;
    this.#settle('refused', undefined, { status: answer.status });
    switch (answer.body.kind) {
      case 'none':
        return this.#endRelay();
      case 'length':
        this.#remaining = answer.body.length;
        if (this.#remaining === 0) return this.#endRelay();
        break;
      case 'chunked':
        this.#decoder = new ChunkedDecoder();
        break;
      case 'close':
        break;
    }
    if (size < buf.length) this.#relay(buf, size);
  }

  #open(rest: Buffer | undefined): void {
    this.#state = 'tunnel';
    const client = this.#client;
    client.removeListener('error', this.#clientOnError);
    client.removeListener('close', this.#clientOnClose);
    this.#up.removeListener('error', this.#upOnError);
    this.#up.removeListener('end', this.#upOnEnd);
    this.#up.removeListener('close', this.#upOnClose);
    if ('setNoDelay' in client) (client as net.Socket).setNoDelay(true);
    const target = this.#target;
    this.#tunnel = new WsTunnel(client, this.#up, (t) => target.untrackSocket(t));
    target.trackSocket(this.#tunnel);
    this.#settle('open', undefined, { status: 101, tunnel: this.#tunnel });
    if (this.#held.length > 0) this.#up.write(this.#held);
    client.resume();
    if (rest !== undefined) this.#tunnel.fromUpstream(rest);
  }

  /** Body bytes of a refused handshake's answer, passed on raw until its framing says it ended. */
  #relay(buf: Buffer, start: number): void {
    const framing = this.#answer!.body;
    const data = buf.subarray(start);
    switch (framing.kind) {
      case 'length': {
        const take = Math.min(this.#remaining, data.length);
        this.#client.write(Buffer.from(data.subarray(0, take)));
        this.#remaining -= take;
        if (this.#remaining === 0) this.#endRelay();
        return;
      }
      case 'chunked': {
        let end: number;
        try {
          end = this.#decoder!.feed(data, 0, ignoreData, undefined);
        } catch (err) {
          return this.#fail(err as Error);
        }
        this.#client.write(Buffer.from(end === -1 ? data : data.subarray(0, end)));
        if (end !== -1) this.#endRelay();
        return;
      }
      default:
        this.#client.write(Buffer.from(data));
    }
  }

  #endRelay(): void {
    this.#state = 'over';
    this.#up.destroy();
    this.#client.end();
  }

  #fail(err: Error): void {
    if (this.#state === 'tunnel' || this.#state === 'over') return;
    const relaying = this.#state === 'relaying';
    this.#state = 'over';
    this.#up.destroy();
    const client = this.#client;
    if (relaying) client.destroy(); // part of an answer went out already: nothing sane to add
    else if (!client.destroyed) client.end(BAD_GATEWAY);
    this.#settle('failed', err);
  }

  #settle(outcome: UpgradeOutcome, err?: Error, answer?: { status: number; tunnel?: WsTunnel }): void {
    clearTimeout(this.#timer);
    const done = this.#done;
    this.#done = ignore;
    done(outcome, err, answer);
  }

  #onTimeout = (): void => {
    this.#fail(new Error('upstream handshake timeout'));
  };

  #upOnError = (err: Error): void => {
    this.#fail(err);
  };

  #upOnEnd = (): void => {
    // A close-delimited refusal ends here; anything else was cut short.
    if (this.#state === 'relaying' && this.#answer?.body.kind === 'close') return this.#endRelay();
    this.#fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
  };

  #upOnClose = (): void => {
    if (this.#state === 'relaying') this.#client.destroy();
    else this.#fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
  };

  #clientOnError = (): void => {
    this.#up.destroy();
  };

  #clientOnClose = (): void => {
    if (this.#state === 'head') this.#fail(new Error('client closed during handshake'));
    else this.#up.destroy();
  };
}

function ignoreData(): void {}
function ignore(): void {}
