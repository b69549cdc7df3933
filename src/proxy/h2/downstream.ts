import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { BodyFraming } from '../../http1/types.js';
import type { BodyError, BodySink, Downstream, DownstreamEvents, Protocol, ResponseBody } from '../downstream.js';
import { respondTakesLists, responseFields, trailerFields } from './response-fields.js';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** What a stream needs from its session (h2/server.ts). */
export interface H2Owner {
  readonly maxBodyBytes: number;
  readonly secure: boolean;
  /** The TLS version of the session's connection; undefined over plain HTTP. */
  readonly tlsVersion: string | undefined;
  /** The client's address (read once per session: node:http2's session.socket is a Proxy). */
  readonly remoteAddress: string;
  /** A stream handed to the request path closed (whichever way). */
  streamClosed(): void;
  /** The client reset a stream Baton had not finished answering (the Rapid Reset count). */
  streamResetByClient(): void;
}

/** This node:http2 takes the response head as a raw list (read once: the version does not change). */
const LISTS = respondTakesLists();

/** respond()'s options, one object each (node:http2 only reads them). */
const BODILESS = Object.freeze({ endStream: true });
const WITH_BODY = Object.freeze({ endStream: false });
const WITH_TRAILERS = Object.freeze({ endStream: false, waitForTrailers: true });

const NO_EVENTS: DownstreamEvents = { downstreamDrained() {}, downstreamClosed() {} };
const NONE: BodyFraming = { kind: 'none' };

/**
 * One HTTP/2 stream (node:http2's core API) behind the client interface: the request's
 * pseudo-header fields become method, path and authority; the answer goes out as HEADERS, DATA
 * and, when the app sent trailers, trailing HEADERS. The exchange sees nothing of HTTP/2.
 *
 * Header fields given to respond() come from Baton's strict response parser or from Baton
 * itself; the connection-specific ones are dropped here, since HTTP/2 forbids them.
 */
export class H2Downstream implements Downstream {
  readonly method: string;
  readonly path: string;
  readonly authority: string | undefined;
  readonly headers: readonly string[];
  readonly protocol: Protocol = 'h2';
  readonly remoteAddress: string;
  readonly body: BodyFraming;
  bodyStarted = false;
  responded = false;
  readonly #stream: ServerHttp2Stream;
  readonly #owner: H2Owner;
  #events: DownstreamEvents = NO_EVENTS;
  #sink: BodySink | undefined;
  #seen = 0;
  /** The client sent END_STREAM (or its HEADERS had it): nothing more comes from it. */
  #clientDone: boolean;
  /** The answer has no DATA (HEAD, 204, 304, an empty one): the HEADERS frame ended the stream. */
  #noBody = false;
  #ended = false;
  #aborted = false;
  #trailers: readonly string[] = [];
  #requestTrailers: string[] = [];
  /** The 'drain' listener is added the first time a write is told to wait (most answers never are). */
  #drainHeard = false;
  /** Bytes of a content-length answer not yet written; -1: not a content-length answer. */
  #unsent = -1;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: readonly string[], owner: H2Owner) {
    this.#stream = stream;
    this.#owner = owner;
    this.method = String(headers[':method'] ?? 'GET');
    this.path = String(headers[':path'] ?? '');
    const authority = headers[':authority'] ?? headers.host;
    this.authority = typeof authority === 'string' && authority !== '' ? authority : undefined;
    this.headers = requestFields(raw);
    this.remoteAddress = owner.remoteAddress;
    const ended = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    const length = Number(headers['content-length'] ?? Number.NaN);
    this.body = ended || length === 0 ? NONE : Number.isSafeInteger(length) && length > 0 ? { kind: 'length', length } : { kind: 'chunked', codings: [] };
    this.#clientDone = ended;
    (stream as OwnedStream)[kDownstream] = this;
    stream.on('error', ignore);
    // 'close' comes once: on(), not once() (no wrapper per stream).
    stream.on('close', streamOnClose);
  }

  get secure(): boolean {
    return this.#owner.secure;
  }
  get tlsVersion(): string | undefined {
    return this.#owner.tlsVersion;
  }

  attach(events: DownstreamEvents): void {
    this.#events = events;
  }

  readBody(sink: BodySink): void {
    if (this.#sink !== undefined) return this.resumeBody();
    this.#sink = sink;
    const s = this.#stream;
    s.on('data', streamOnData);
    s.once('end', streamOnEnd);
    s.once('trailers', streamOnTrailers);
  }

  resumeBody(): void {
    this.#stream.resume();
  }

  /** Nothing to do per stream: a stopping Baton ends each session with GOAWAY (h2/server.ts). */
  closeAfterResponse(): void {}

  respond(status: number, _reason: string, headers: readonly string[], body: ResponseBody): void {
    if (this.responded || this.#stream.destroyed) return;
    this.responded = true;
    const bodiless = this.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    const length = body.kind === 'length' || (body.kind === 'none' && body.length !== undefined && status !== 204) ? String(body.length) : undefined;
    this.#noBody = bodiless || body.kind === 'none' || (body.kind === 'length' && body.length === 0);
    // Trailers are known only at the end: a streamed answer waits for them (sent empty when none).
    const trailers = !this.#noBody && body.kind === 'stream';
    if (trailers) this.#stream.on('wantTrailers', streamOnWantTrailers);
    try {
      // A raw list or an object: ServerHttp2Stream's types know only the object.
      this.#stream.respond(responseFields(LISTS, status, headers, length) as OutgoingHttpHeaders, this.#noBody ? BODILESS : trailers ? WITH_TRAILERS : WITH_BODY);
    } catch {
      this.abort();
      return;
    }
    if (this.#noBody) this.#ended = true;
    else if (body.kind === 'length') this.#unsent = body.length;
  }

  write(chunk: Buffer): boolean {
    if (this.#ended || this.#noBody || this.#stream.destroyed || chunk.length === 0) return true;
    if (this.#unsent >= 0 && (this.#unsent -= chunk.length) <= 0) {
      // The last bytes of a content-length answer end the stream in the same call (no trailers
      // without waitForTrailers): one write and END_STREAM, not a write and then an end.
      this.#ended = true;
      this.#stream.end(chunk);
      return true;
    }
    if (this.#stream.write(chunk)) return true;
    if (!this.#drainHeard) {
      this.#drainHeard = true;
      this.#stream.on('drain', streamOnDrain);
    }
    return false;
  }

  /** HEADERS go out when respond() is called: nothing is held. */
  flush(): void {}

  /** DATA frames wait for the stream's flow-control window in the session: not told. */
  get flushed(): boolean {
    return false;
  }

  end(trailers?: readonly string[]): void {
    if (this.#ended) return this.#bodyUnread();
    this.#ended = true;
    if (this.#stream.destroyed) return;
    this.#trailers = trailers ?? [];
    this.#stream.end();
    this.#bodyUnread();
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#ended = true;
    if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  /**
   * Answered while the client may still send a body nobody reads (never asked for, or refused
   * past max_body): ask it to stop, without error, once the answer is out (RFC 9113 8.1).
   */
  #bodyUnread(): void {
    if (this.#clientDone || this.#sink !== undefined || this.#stream.destroyed) return;
    this.#clientDone = true;
    this.#stream.close(NGHTTP2_NO_ERROR);
  }

  // --- the stream's events (through the shared listeners below) ---------------------------------

  streamData(chunk: Buffer): void {
    this.#seen += chunk.length;
    const max = this.#owner.maxBodyBytes;
    if (max > 0 && this.#seen > max) return this.#bodyFailed('too_large');
    this.bodyStarted = true;
    if (this.#sink?.onBodyData(chunk) === false) this.#stream.pause();
  }

  streamTrailers(trailers: IncomingHttpHeaders): void {
    for (const [name, value] of Object.entries(trailers)) {
      if (name.startsWith(':') || value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) this.#requestTrailers.push(name, String(v));
    }
  }

  streamEnded(): void {
    const sink = this.#sink;
    this.#detachBody();
    this.#clientDone = true;
    sink?.onBodyEnd(this.#requestTrailers);
  }

  #bodyFailed(reason: BodyError): void {
    const sink = this.#sink;
    this.#detachBody();
    sink?.onBodyError(reason);
  }

  #detachBody(): void {
    const s = this.#stream;
    s.removeListener('data', streamOnData);
    s.removeListener('end', streamOnEnd);
    s.removeListener('trailers', streamOnTrailers);
    this.#sink = undefined;
  }

  streamWantsTrailers(): void {
    try {
      this.#stream.sendTrailers(trailerFields(this.#trailers));
    } catch {
      this.#stream.close(NGHTTP2_NO_ERROR);
    }
  }

  streamDrained(): void {
    this.#events.downstreamDrained();
  }

  streamClosed(): void {
    const s = this.#stream;
    // Nothing of this request stays reachable from its stream (see linked-set.ts on what a dead
    // object keeps alive); its listeners are shared functions and go with it.
    (s as OwnedStream)[kDownstream] = undefined;
    this.#owner.streamClosed();
    if (this.#sink !== undefined) this.#bodyFailed('aborted');
    if (this.#ended && s.rstCode === NGHTTP2_NO_ERROR) return;
    if (!this.#aborted && !this.#ended) this.#owner.streamResetByClient();
    if (!this.#ended) {
      this.#ended = true;
      this.#events.downstreamClosed();
    }
  }
}

/** A stream's H2Downstream, for the shared listeners (`this` is the stream): no closure per stream. */
const kDownstream = Symbol('baton.h2downstream');
type OwnedStream = ServerHttp2Stream & { [kDownstream]?: H2Downstream | undefined };

function streamOnData(this: OwnedStream, chunk: Buffer): void {
  this[kDownstream]?.streamData(chunk);
}
function streamOnTrailers(this: OwnedStream, trailers: IncomingHttpHeaders): void {
  this[kDownstream]?.streamTrailers(trailers);
}
function streamOnEnd(this: OwnedStream): void {
  this[kDownstream]?.streamEnded();
}
function streamOnWantTrailers(this: OwnedStream): void {
  this[kDownstream]?.streamWantsTrailers();
}
function streamOnDrain(this: OwnedStream): void {
  this[kDownstream]?.streamDrained();
}
function streamOnClose(this: OwnedStream): void {
  this[kDownstream]?.streamClosed();
}

/**
 * The request's fields as HTTP/1.1 would carry them: without pseudo-header fields, and with
 * the cookie crumbs of HTTP/2 joined into one field (RFC 9113 8.2.3).
 */
function requestFields(raw: readonly string[]): string[] {
  const out: string[] = [];
  let cookie: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = raw[i + 1]!;
    if (name === 'cookie') cookie = cookie === undefined ? value : `${cookie}; ${value}`;
    else out.push(name, value);
  }
  if (cookie !== undefined) out.push('cookie', cookie);
  return out;
}

function ignore(): void {}
