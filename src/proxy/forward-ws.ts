import net from 'node:net';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Target } from './forwarder.js';
import { WsTunnel } from './ws-tunnel.js';
import type { Upstream } from '../upstream/upstream.js';
import { ChunkedDecoder, ResponseParseError, gatherHead, parseHead, type ResponseHead } from './forward-net-parse.js';
import { READ_BUFFER } from './forward-net-pool.js';
import { requestHead } from './headers.js';

export type UpgradeOutcome = 'open' | 'refused' | 'failed';

const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 41\r\nconnection: close\r\n\r\n502 The application could not be reached\n';

/**
 * Forward a WebSocket handshake to the upstream and, once it answers 101, splice the two
 * sockets into a tunnel tracked on that upstream. A non-101 answer is relayed byte for byte
 * and the connection closed; a connection failure, a malformed answer or no answer within
 * `timeoutMs` gets 502. `done` reports the outcome once.
 *
 * The upstream side is a plain `net` socket read with `onread` into the net forwarder's pool's
 * shared read buffer: no stream machinery per message on the busiest side of a tunnel.
 */
export function forwardUpgrade(
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  upstream: Target & Pick<Upstream, 'trackSocket'>,
  headers: http.OutgoingHttpHeaders,
  timeoutMs: number,
  done: (outcome: UpgradeOutcome, error?: Error) => void,
): void {
  new Handshake(socket, upstream, timeoutMs, done).start(requestHead(req.method ?? 'GET', req.url ?? '/', headers), head);
}

class Handshake {
  readonly #client: Duplex;
  readonly #target: Target & Pick<Upstream, 'trackSocket'>;
  #done: (outcome: UpgradeOutcome, error?: Error) => void;
  readonly #up: net.Socket;
  readonly #timer: NodeJS.Timeout;
  #state: 'head' | 'relaying' | 'tunnel' | 'over' = 'head';
  #pending: Buffer | undefined;
  /** A refused handshake's answer being relayed: how its body ends. */
  #answer: ResponseHead | undefined;
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined;
  #tunnel: WsTunnel | undefined;

  constructor(client: Duplex, target: Target & Pick<Upstream, 'trackSocket'>, timeoutMs: number, done: (outcome: UpgradeOutcome, error?: Error) => void) {
    this.#client = client;
    this.#target = target;
    this.#done = done;
    this.#up = net.connect({ host: target.host, port: target.port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.#onRead } });
    this.#up.on('error', this.#upOnError);
    this.#up.on('end', this.#upOnEnd);
    this.#up.on('close', this.#upOnClose);
    this.#timer = setTimeout(() => this.#fail(new Error('upstream handshake timeout')), timeoutMs);
    client.on('error', this.#clientOnError);
    client.on('close', this.#clientOnClose);
  }

  start(requestHead: string, head: Buffer): void {
    this.#up.write(requestHead, 'latin1');
    if (head.length > 0) this.#up.write(head);
  }

  #onRead = (n: number, buffer: Buffer): boolean => {
    const chunk = buffer.subarray(0, n);
    try {
      switch (this.#state) {
        case 'tunnel':
          // The client's write may be queued: it gets a copy of the shared buffer's bytes.
          this.#tunnel!.fromUpstream(Buffer.from(chunk));
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
    } catch (err) {
      if (!(err instanceof ResponseParseError)) throw err;
      this.#fail(err);
    }
    return true;
  };

  #head(chunk: Buffer): void {
    const { buf, end } = gatherHead(this.#pending, chunk, 'handshake answer');
    if (end === -1) {
      this.#pending = buf;
      return;
    }
    this.#pending = undefined;
    const answer = parseHead(buf.toString('latin1', 0, end - 4), 'GET');
    const client = this.#client;
    if (client.destroyed) return this.#fail(new Error('client closed during handshake'));
    // The app's answer goes to the client as it came.
    client.write(Buffer.from(buf.subarray(0, end)));
    if (answer.statusCode === 101) return this.#open(end < buf.length ? Buffer.from(buf.subarray(end)) : undefined);
    // The app declined the upgrade (404, 401...): relay its answer, then close.
    this.#state = 'relaying';
    this.#answer = answer;
    this.#settle('refused');
    switch (answer.framing) {
      case 'none':
        return this.#endRelay();
      case 'length':
        this.#remaining = answer.contentLength;
        if (answer.contentLength === 0) return this.#endRelay();
        break;
      case 'chunked':
        this.#decoder = new ChunkedDecoder();
        break;
      case 'close':
        break;
    }
    if (end < buf.length) this.#relay(buf, end);
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
    let untrack = (): void => {};
    this.#tunnel = new WsTunnel(client, this.#up, () => untrack());
    untrack = this.#target.trackSocket(this.#tunnel);
    this.#settle('open');
    if (rest !== undefined) this.#tunnel.fromUpstream(rest);
  }

  /** Body bytes of a refused handshake's answer, passed on raw until its framing says it ended. */
  #relay(buf: Buffer, start: number): void {
    const answer = this.#answer!;
    const data = buf.subarray(start);
    switch (answer.framing) {
      case 'length': {
        const take = Math.min(this.#remaining, data.length);
        this.#client.write(Buffer.from(data.subarray(0, take)));
        this.#remaining -= take;
        if (this.#remaining === 0) this.#endRelay();
        return;
      }
      case 'chunked': {
        const end = this.#decoder!.feed(data, 0, ignoreData, undefined);
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

  #settle(outcome: UpgradeOutcome, err?: Error): void {
    clearTimeout(this.#timer);
    const done = this.#done;
    this.#done = ignore;
    done(outcome, err);
  }

  #upOnError = (err: Error): void => {
    this.#fail(err);
  };

  #upOnEnd = (): void => {
    // A close-delimited refusal ends here; anything else was cut short.
    if (this.#state === 'relaying' && this.#answer?.framing === 'close') return this.#endRelay();
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
