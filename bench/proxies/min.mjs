// The floor of an HTTP proxy on node:net, node:tls and node:http2: the least one can do per
// request, and nothing else. Plain HTTP/1.1 on PORT; with HTTPS_PORT, also TLS 1.2-1.3 with ALPN
// h2 and http/1.1 and session tickets, as Baton's listener; HTTP/2 sessions through node:http2's
// core API (the 'stream' event, stream.respond, no compatibility layer). HTTP/1.1 is read with
// indexOf, one request at a time; a pool of keep-alive HTTP/1.1 connections upstream. Per
// request it sends `METHOD path HTTP/1.1` with the Host, and a Content-Length and the body when
// the request has one (HTTP/1.1: a body with a length, buffered whole; HTTP/2: GET and HEAD
// only), reads the answer's status, Content-Type and Content-Length (the bench app always sends
// one), and answers with those three. No validation, no limits, no header forwarding, no
// chunked bodies, no timeouts: what Baton does on top of this is Baton's cost; what this costs
// is node's.
//
// With FORWARDED=1 it also sends up the five fields Baton adds to every request (X-Forwarded-For,
// -Proto and -Host, X-Request-Id and a new W3C traceparent) and answers with the X-Request-Id, made
// as cheaply as it can (a counter, ids cut from one pool of random hex): the same floor carrying
// the fields the contract asks of Baton, which the app then parses too.
//
//   PORT=8080 [HTTPS_PORT=8443 CERT=site.pem KEY=site.key] [FORWARDED=1] UPSTREAM_PORT=9000 node bench/proxies/min.mjs
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { settings } from './headers.mjs';

const config = settings(process.env);
const idle = [];
const HEAD_END = Buffer.from('\r\n\r\n');
const FORWARDED = process.env.FORWARDED === '1';

/** Request ids (a random prefix and a counter) and traceparents (slices of a pool of random hex). */
const idPrefix = randomBytes(6).toString('hex');
let idCount = 0;
let hex = '';
let hexAt = 0;

/** The request id of a new request, or undefined without FORWARDED. */
function requestId() {
  return FORWARDED ? `${idPrefix}-${(++idCount).toString(36)}` : undefined;
}

/** The fields Baton adds going up, for a request with id `id` (none without FORWARDED). */
function forwardedFields(id, remote, proto, authority) {
  if (id === undefined) return '';
  if (hexAt + 48 > hex.length) {
    hex = randomBytes(4096).toString('hex');
    hexAt = 0;
  }
  hexAt += 48;
  const trace = `00-${hex.slice(hexAt - 48, hexAt - 16)}-${hex.slice(hexAt - 16, hexAt)}-01`;
  return `x-forwarded-for: ${remote}\r\nx-forwarded-proto: ${proto}\r\nx-forwarded-host: ${authority}\r\nx-request-id: ${id}\r\ntraceparent: ${trace}\r\n`;
}

/**
 * A whole message from the bytes `holder` kept plus `chunk`: its head (found with indexOf) and
 * its Content-Length, if any, once the body it announces is there too; undefined while it is
 * still arriving (the bytes then wait in `holder.buffered`).
 */
function whole(holder, chunk) {
  const buf = holder.buffered === undefined ? chunk : Buffer.concat([holder.buffered, chunk]);
  const end = buf.indexOf(HEAD_END);
  const head = end < 0 ? '' : buf.toString('latin1', 0, end);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (end < 0 || (length !== null && buf.length < end + 4 + Number(length[1]))) {
    holder.buffered = buf;
    return undefined;
  }
  holder.buffered = undefined;
  return { buf, end, head, length: length === null ? undefined : Number(length[1]) };
}

/** One keep-alive connection upstream, answering one stream at a time. */
class Upstream {
  constructor() {
    this.socket = net.connect({ host: config.upstream.host, port: config.upstream.port, noDelay: true });
    this.buffered = undefined;
    /** Who waits for the answer: an HTTP/2 stream or an HTTP/1.1 client (an H1Client). */
    this.stream = undefined;
    this.socket.on('data', (chunk) => this.#data(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.#lost());
  }

  /** `fields`: more header lines, each ending in CRLF (forwardedFields). */
  send(stream, method, path, authority, fields, body) {
    this.stream = stream;
    if (body === undefined) this.socket.write(`${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n${fields}\r\n`, 'latin1');
    else this.socket.write(`${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n${fields}content-length: ${body.length}\r\n\r\n${body.toString('latin1')}`, 'latin1');
  }

  #data(chunk) {
    const m = whole(this, chunk);
    if (m === undefined) return;
    const { buf, end, head, length } = m;
    const stream = this.stream;
    this.stream = undefined;
    if (length === undefined) {
      // Not this floor's job (the bench app always sends a length): give up on the connection.
      this.socket.destroy();
      fail(stream);
      return;
    }
    idle.push(this);
    if (stream === undefined || stream.destroyed) return;
    const type = /\r\ncontent-type: *([^\r]*)/i.exec(head);
    const status = Number(head.slice(9, 12));
    const body = buf.subarray(end + 4, end + 4 + length);
    if (stream instanceof H1Client) {
      stream.answer(status, type === null ? 'application/octet-stream' : type[1], body);
      return;
    }
    const fields = { ':status': status, 'content-type': type === null ? 'application/octet-stream' : type[1], 'content-length': body.length };
    if (stream.requestId !== undefined) fields['x-request-id'] = stream.requestId;
    stream.respond(fields);
    stream.end(body);
  }

  #lost() {
    const i = idle.indexOf(this);
    if (i >= 0) idle.splice(i, 1);
    if (this.stream !== undefined) fail(this.stream);
    this.stream = undefined;
  }
}

function fail(stream) {
  if (stream === undefined || stream.destroyed) return;
  if (stream instanceof H1Client) stream.answer(502, 'text/plain', Buffer.alloc(0));
  else if (stream.headersSent) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  else stream.respond({ ':status': 502, 'content-length': 0 }, { endStream: true });
}

/**
 * An HTTP/1.1 connection: one request at a time (no pipelining), its head found with indexOf,
 * a body with a Content-Length buffered whole before it goes up.
 */
class H1Client {
  constructor(socket) {
    this.socket = socket;
    this.buffered = undefined;
    this.close = false;
    /** The X-Request-Id of the request in flight (FORWARDED). */
    this.requestId = undefined;
    socket.on('data', (chunk) => this.#data(chunk));
    socket.on('error', () => {});
  }

  get destroyed() {
    return this.socket.destroyed;
  }

  #data(chunk) {
    const m = whole(this, chunk);
    if (m === undefined) return;
    const { buf, end, head, length } = m;
    const line = head.slice(0, head.indexOf('\r\n')).split(' ');
    const host = /\r\nhost: *([^\r]*)/i.exec(head);
    this.close = /\r\nconnection: *close/i.test(head);
    if (/\r\ntransfer-encoding:/i.test(head)) {
      this.close = true;
      this.answer(501, 'text/plain', Buffer.alloc(0));
      return;
    }
    const body = length === undefined ? undefined : buf.subarray(end + 4, end + 4 + length);
    const authority = host === null ? 'localhost' : host[1];
    this.requestId = requestId();
    const fields = forwardedFields(this.requestId, this.socket.remoteAddress, this.socket.encrypted === true ? 'https' : 'http', authority);
    (idle.pop() ?? new Upstream()).send(this, line[0], line[1], authority, fields, body);
  }

  answer(status, type, body) {
    const id = this.requestId === undefined ? '' : `x-request-id: ${this.requestId}\r\n`;
    const head = `HTTP/1.1 ${status} OK\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\n${id}${this.close ? 'connection: close\r\n' : ''}\r\n`;
    this.socket.write(head + body.toString('latin1'), 'latin1');
    if (this.close) this.socket.end();
  }
}

const h2 = http2.createServer();
h2.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  const method = headers[':method'];
  if (method !== 'GET' && method !== 'HEAD') {
    stream.respond({ ':status': 501, 'content-length': 0 }, { endStream: true });
    return;
  }
  const authority = headers[':authority'] ?? 'localhost';
  stream.requestId = requestId();
  const fields = forwardedFields(stream.requestId, stream.session?.socket?.remoteAddress, 'https', authority);
  (idle.pop() ?? new Upstream()).send(stream, method, headers[':path'], authority, fields);
});
h2.on('sessionError', () => {});

net.createServer({ noDelay: true }, (socket) => new H1Client(socket)).listen(config.port, config.host, () => process.stdout.write(`min listening on ${config.host}:${config.port}\n`));
process.on('SIGTERM', () => process.exit(0));
if (process.env.HTTPS_PORT !== undefined) listenTls();

// Session resumption as Baton's listener has it (a fixed session id context, and session tickets
// through the ticket-key callback, one key): with node's defaults, wrk resumed fewer sessions,
// and a full handshake costs an ECDSA signature more.
function listenTls() {
  const server = tls.createServer({ cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY), minVersion: 'TLSv1.2', ALPNProtocols: ['h2', 'http/1.1'], sessionIdContext: 'tls-min' }, (socket) => {
    if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
    else new H1Client(socket);
  });
  const ticketKey = { name: randomBytes(16), hmac: randomBytes(16), aes: randomBytes(16) };
  const ivs = randomBytes(16 * 4096);
  let ivAt = 0;
  const context = server._sharedCreds.context;
  context.enableTicketKeyCallback();
  context.onticketkeycallback = (name, _iv, encrypt) => {
    if (encrypt) {
      if (ivAt === ivs.length) ivAt = 0;
      ivAt += 16;
      return [1, ticketKey.hmac, ticketKey.aes, ticketKey.name, ivs.subarray(ivAt - 16, ivAt)];
    }
    return name.equals(ticketKey.name) ? [2, ticketKey.hmac, ticketKey.aes] : [0, ticketKey.hmac, ticketKey.aes];
  };
  server.on('tlsClientError', () => {});
  server.listen(Number(process.env.HTTPS_PORT), config.host, () => process.stdout.write(`min listening for TLS on ${config.host}:${process.env.HTTPS_PORT}\n`));
}
