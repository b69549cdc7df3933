import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { BodyFraming, RequestHead } from '../../http1/types.js';
import { writeBodyChunk } from '../../http1/body-write.js';
import { lastChunk } from '../../http1/head-writer.js';
import type { BodySink, Downstream, DownstreamEvents, Protocol, ResponseBody } from '../downstream.js';
import { isName } from '../headers.js';

/** What a request on an HTTP/1.1 connection needs from its connection. */
export interface H1Owner {
  readonly socket: Socket;
  readonly secure: boolean;
  /** The TLS version of the connection (read once per connection); undefined over plain HTTP. */
  readonly tlsVersion: string | undefined;
  /** Seconds advertised in `Keep-Alive: timeout=N`. */
  readonly keepAliveSeconds: number;
  /** The IMF-fixdate of now (made at most once a second, by the server). */
  date(): string;
  /** The server is stopping: no connection is kept alive past its answer in flight. */
  readonly closing: boolean;
  bodyRequested(req: H1Downstream): void;
  responseEnded(req: H1Downstream): void;
}

const NO_EVENTS: DownstreamEvents = { downstreamDrained() {}, downstreamClosed() {} };

/**
 * One request on one of Baton's HTTP/1.1 connections, and its answer written straight to the
 * client socket. The head is held until the first body bytes or the end, so small answers go
 * out in one write.
 *
 * Header fields given to respond() are trusted to be valid: they come from Baton's strict
 * response parser or from Baton itself.
 */
export class H1Downstream implements Downstream {
  readonly method: string;
  readonly path: string;
  readonly authority: string | undefined;
  readonly headers: readonly string[];
  readonly protocol: Protocol;
  readonly body: BodyFraming;
  readonly remoteAddress: string;
  bodyStarted = false;
  responded = false;
  /** Set by the connection while the body is read: where it goes. */
  sink: BodySink | undefined;
  events: DownstreamEvents = NO_EVENTS;
  keepAlive: boolean;
  ended = false;
  /** The connection closed under this request before its answer ended. */
  closed = false;
  /** When the head was complete (performance.now()): set by the connection. */
  receivedAt = 0;
  readonly #owner: H1Owner;
  readonly #minor: 0 | 1;
  #head: string | undefined;
  #hasBody = false;
  #chunked = false;

  constructor(head: RequestHead, owner: H1Owner) {
    this.#owner = owner;
    this.method = head.method;
    this.path = head.path;
    this.authority = head.authority;
    this.headers = head.headers;
    this.#minor = head.minor;
    this.protocol = head.minor === 1 ? 'http/1.1' : 'http/1.0';
    this.body = head.body;
    this.keepAlive = head.keepAlive && !owner.closing;
    this.remoteAddress = owner.socket.remoteAddress ?? '';
  }

  get secure(): boolean {
    return this.#owner.secure;
  }
  get tlsVersion(): string | undefined {
    return this.#owner.tlsVersion;
  }
  /** Nothing queued on the socket: each write the kernel took whole (a TLS socket queues until it is encrypted and sent). */
  get flushed(): boolean {
    return this.#owner.socket.writableLength === 0;
  }

  attach(events: DownstreamEvents): void {
    this.events = events;
  }

  readBody(sink: BodySink): void {
    this.sink = sink;
    this.#owner.bodyRequested(this);
  }

  resumeBody(): void {
    this.#owner.bodyRequested(this);
  }

  closeAfterResponse(): void {
    this.keepAlive = false;
  }

  respond(status: number, reason: string, headers: readonly string[], body: ResponseBody): void {
    if (this.responded || this.closed) return;
    this.responded = true;
    let head = `HTTP/1.${this.#minor} ${status} ${reason === '' ? (STATUS_CODES[status] ?? '') : reason}\r\n`;
    let dated = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (!dated) dated = isName(name, 'date');
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    // The app's own Date wins, as with node:http.
    if (!dated) head += `date: ${this.#owner.date()}\r\n`;
    const bodiless = this.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    switch (body.kind) {
      case 'none':
        if (body.length !== undefined && status !== 204) head += `content-length: ${body.length}\r\n`;
        else if (!bodiless) head += 'content-length: 0\r\n';
        break;
      case 'length':
        head += `content-length: ${body.length}\r\n`;
        this.#hasBody = !bodiless;
        break;
      case 'stream':
        if (bodiless) break;
        this.#hasBody = true;
        if (this.#minor === 1) {
          this.#chunked = true;
          head += body.codings.length === 0 ? 'transfer-encoding: chunked\r\n' : `transfer-encoding: ${body.codings.join(', ')}, chunked\r\n`;
        } else this.keepAlive = false; // HTTP/1.0: the body ends when the connection does
        break;
    }
    if (this.#owner.closing) this.keepAlive = false;
    if (!this.keepAlive) head += 'connection: close\r\n\r\n';
    else head += `connection: keep-alive\r\nkeep-alive: timeout=${this.#owner.keepAliveSeconds}\r\n\r\n`;
    this.#head = head;
  }

  flush(): void {
    const head = this.#head;
    if (head === undefined || this.closed) return;
    this.#head = undefined;
    this.#owner.socket.write(head, 'latin1');
  }

  write(chunk: Buffer): boolean {
    if (this.ended || this.closed || chunk.length === 0) return true;
    const socket = this.#owner.socket;
    const head = this.#head;
    this.#head = undefined;
    if (!this.#hasBody) {
      if (head !== undefined) return socket.write(head, 'latin1');
      return true;
    }
    return writeBodyChunk(socket, head, chunk, this.#chunked);
  }

  end(trailers?: readonly string[]): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    const head = this.#head ?? '';
    this.#head = undefined;
    const tail = this.#chunked ? lastChunk(trailers ?? []) : '';
    if (head !== '' || tail !== '') this.#owner.socket.write(head + tail, 'latin1');
    // Its events are over: the exchange is not kept reachable from here (see linked-set.ts).
    this.events = NO_EVENTS;
    this.#owner.responseEnded(this);
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    this.keepAlive = false;
    this.#owner.socket.destroy();
  }

  /** From the connection: the socket closed before the answer ended. */
  connectionClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const events = this.events;
    this.events = NO_EVENTS;
    if (!this.ended) events.downstreamClosed();
  }
}
