import { EventEmitter } from 'node:events';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { LeanRequest } from './request.js';
import { FIELD_VALUE, TOKEN } from './head.js';

/** What a response reports to its connection. */
export interface ResponseOwner {
  readonly socket: Socket;
  /** Seconds advertised in Keep-Alive: timeout=N. */
  readonly keepAliveSeconds: number;
  responseDone(res: LeanResponse): void;
}


/**
 * The answer to a lean request, written straight to the client socket. It offers the members
 * of node:http's ServerResponse that the proxy, its error pages and the net forwarder use, with
 * the same behaviour: header names and values validated (a throw, nothing written), Date added,
 * Connection/Keep-Alive set, chunked framing when no Content-Length was given, no body for HEAD,
 * 204 and 304, 'drain', then 'finish' and 'close' once the response is done (or 'close' alone
 * when the connection went first).
 */
export class LeanResponse extends EventEmitter {
  readonly req: LeanRequest;
  statusCode = 200;
  statusMessage = '';
  headersSent = false;
  writableFinished = false;
  destroyed = false;
  /** False: `Connection: close`, and the connection ends after this response. */
  shouldKeepAlive: boolean;
  readonly #owner: ResponseOwner;
  /** The head, made by writeHead and sent with the first body bytes (one write). */
  #head: string | undefined;
  #chunked = false;
  #hasBody = true;
  #ended = false;

  constructor(req: LeanRequest, owner: ResponseOwner, keepAlive: boolean) {
    super();
    this.req = req;
    this.#owner = owner;
    this.shouldKeepAlive = keepAlive;
  }

  writeHead(statusCode: number, reasonOrHeaders?: string | HeaderInput, headers?: HeaderInput): this {
    if (this.headersSent) throw Object.assign(new Error('Cannot write headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
    let reason: string | undefined;
    if (typeof reasonOrHeaders === 'string') reason = reasonOrHeaders;
    else headers = reasonOrHeaders;
    reason ??= STATUS_CODES[statusCode] ?? 'unknown';
    if (statusCode < 100 || statusCode > 999 || !Number.isInteger(statusCode)) throw new RangeError(`Invalid status code: ${statusCode}`);
    if (!FIELD_VALUE.test(reason)) throw invalidChar('statusMessage', reason);
    let head = `HTTP/1.1 ${statusCode} ${reason}\r\n`;
    let hasLength = false;
    let hasDate = false;
    // The forwarder's headers come flat already; Baton's own pages give an object.
    const flat = headers === undefined ? [] : isFlat(headers) ? headers : flatten(headers);
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!;
      const value = flat[i + 1]!;
      if (!TOKEN.test(name)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
      if (!FIELD_VALUE.test(value)) throw invalidChar(name, value);
      // Only the names that change framing are looked at closely.
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      else if (name.length === 4 && name.toLowerCase() === 'date') hasDate = true;
      head += `${name}: ${value}\r\n`;
    }
    this.#hasBody = this.req.method !== 'HEAD' && statusCode !== 204 && statusCode !== 304 && statusCode >= 200;
    if (!hasDate) head += `Date: ${httpDate()}\r\n`;
    if (this.#hasBody && !hasLength) {
      this.#chunked = true;
      head += 'Transfer-Encoding: chunked\r\n';
    }
    head += this.shouldKeepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${this.#owner.keepAliveSeconds}\r\n\r\n` : 'Connection: close\r\n\r\n';
    this.statusCode = statusCode;
    this.statusMessage = reason;
    this.#head = head;
    this.headersSent = true;
    return this;
  }

  /** Send the head now (a stream whose first bytes may be a while coming). */
  flushHeaders(): void {
    if (!this.headersSent) this.writeHead(this.statusCode);
    const head = this.#head;
    if (head === undefined || this.destroyed) return;
    this.#head = undefined;
    this.#owner.socket.write(head, 'latin1');
  }

  write(chunk: Buffer | string): boolean {
    if (this.#ended || this.destroyed) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const socket = this.#owner.socket;
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const head = this.#head;
    this.#head = undefined;
    if (!this.#hasBody || data.length === 0) return head === undefined ? !socket.writableNeedDrain : socket.write(head, 'latin1');
    if (this.#chunked) {
      socket.cork();
      socket.write(`${head ?? ''}${data.length.toString(16)}\r\n`, 'latin1');
      socket.write(data);
      const ok = socket.write('\r\n', 'latin1');
      socket.uncork();
      return ok;
    }
    if (head === undefined) return socket.write(data);
    socket.cork();
    socket.write(head, 'latin1');
    const ok = socket.write(data);
    socket.uncork();
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.#ended || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.#ended = true;
    const socket = this.#owner.socket;
    const head = this.#head;
    this.#head = undefined;
    const data = chunk === undefined || !this.#hasBody ? undefined : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#chunked) {
      const tail = data === undefined || data.length === 0 ? undefined : data;
      if (tail === undefined) socket.write(`${head ?? ''}0\r\n\r\n`, 'latin1');
      else {
        socket.cork();
        socket.write(`${head ?? ''}${tail.length.toString(16)}\r\n`, 'latin1');
        socket.write(tail);
        socket.write('\r\n0\r\n\r\n', 'latin1');
        socket.uncork();
      }
    } else if (data === undefined || data.length === 0) {
      if (head !== undefined) socket.write(head, 'latin1');
    } else if (head === undefined) socket.write(data);
    else {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(data);
      socket.uncork();
    }
    this.writableFinished = true;
    this.emit('finish');
    this.emit('close');
    this.#owner.responseDone(this);
    return this;
  }

  /** Cut the response: the connection goes with it. */
  destroy(): this {
    if (!this.destroyed) this.#owner.socket.destroy();
    return this;
  }

  /** The connection closed under this response (from the connection). */
  connectionClosed(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (!this.writableFinished) this.emit('close');
  }
}

export type HeaderInput = readonly string[] | Record<string, string | number | readonly string[] | undefined>;

function isFlat(headers: HeaderInput | undefined): headers is readonly string[] {
  return Array.isArray(headers);
}

function flatten(headers: Exclude<HeaderInput, readonly string[]>): string[] {
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number') out.push(name, String(value));
    else for (const v of value) out.push(name, v);
  }
  return out;
}

function invalidChar(name: string, value: string): TypeError {
  return Object.assign(new TypeError(`Invalid character in header content ["${name}"]: ${JSON.stringify(value.slice(0, 60))}`), { code: 'ERR_INVALID_CHAR' });
}

let dateSecond = -1;
let dateText = '';
/** The IMF-fixdate of now, made at most once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
