/**
 * fast-check arbitraries for HTTP/1.x messages: well-formed requests and responses (with a flag
 * saying whether Baton serves them itself), and mutations of their bytes of the kinds that
 * desynchronize parsers: byte flips, inserted CR / LF / NUL / SP / HTAB, deleted bytes, bare LFs,
 * folded lines, duplicated lines, case changes, smuggler's Content-Length / Transfer-Encoding
 * gadgets, truncation.
 */

import fc from 'fast-check';

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@%/?";

const token = (max = 12): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: max });

/** Field-value bytes: mostly printable, some HTAB, SP and obs-text inside. */
const fieldValue: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-=;,/"()'.split('')) },
      { weight: 2, arbitrary: fc.constantFrom(' ', '\t') },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
    ),
    { maxLength: 24 },
  )
  .map((a) => a.join(''));

const COMMON_NAMES = ['Accept', 'User-Agent', 'Cookie', 'Accept-Encoding', 'X-Request-Id', 'Content-Type', 'Cache-Control', 'X_Underscore'];

const headerName: fc.Arbitrary<string> = fc.oneof(fc.constantFrom(...COMMON_NAMES), token());

export interface Generated {
  text: string;
  /** Whether every part of it is in the subset Baton serves (so it must read it). */
  served: boolean;
}

/** A chunked body: chunks, maybe extensions, maybe trailers. */
const chunkedBody: fc.Arbitrary<string> = fc
  .record({
    chunks: fc.array(
      fc.record({
        data: fc.string({ unit: fc.constantFrom(...'abcxyz\r\n0'.split('')), minLength: 1, maxLength: 20 }),
        ext: fc.option(fc.oneof(token(6), fc.tuple(token(6), token(6)).map(([a, b]) => `${a}=${b}`), token(6).map((a) => `${a}="q\\"x"`)), { freq: 4 }),
        upper: fc.boolean(),
        zeros: fc.nat(2),
      }),
      { maxLength: 3 },
    ),
    trailers: fc.array(fc.tuple(fc.oneof({ weight: 4, arbitrary: headerName }, { weight: 1, arbitrary: fc.constantFrom('Connection', 'Upgrade', 'Content-Length', 'Transfer-Encoding', 'Proxy-Connection', 'Host') }), fieldValue), { maxLength: 2 }),
  })
  .map(({ chunks, trailers }) => {
    let s = '';
    for (const c of chunks) {
      const hex = c.data.length.toString(16);
      s += '0'.repeat(c.zeros) + (c.upper ? hex.toUpperCase() : hex) + (c.ext === null ? '' : `;${c.ext}`) + '\r\n' + c.data + '\r\n';
    }
    return s + '0\r\n' + trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
  });

type Body = { kind: 'none' } | { kind: 'length'; data: string } | { kind: 'chunked'; body: string; codings: string };

const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map((d): Body => ({ kind: 'length', data: d.replace(/[^\x00-\xff]/g, 'x') })) },
  { weight: 2, arbitrary: fc.tuple(chunkedBody, fc.constantFrom('', 'gzip, ', 'gzip,')).map(([b, c]): Body => ({ kind: 'chunked', body: b, codings: c })) },
);

const SERVED = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND', 'QUERY'];

const request: fc.Arbitrary<Generated> = fc
  .record({
    method: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...SERVED) }, { weight: 1, arbitrary: fc.constantFrom('CONNECT', 'TRACE', 'ANNOUNCE', 'PRI', 'M-SEARCH', 'SOURCE') }),
    target: fc.oneof(
      { weight: 8, arbitrary: fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 20 }).map((p) => '/' + p) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('http', 'https', 'HTTP'), fc.constantFrom('a.test', 'b.test:8080', '[::1]:80'), fc.constantFrom('', '/', '/x?y', '?q')).map(([s, a, p]) => `${s}://${a}${p}`) },
      { weight: 1, arbitrary: fc.constant('*') },
    ),
    minor: fc.constantFrom(1, 1, 1, 0),
    host: fc.constantFrom('a.test', 'b.test:8080', 'x'),
    hostCount: fc.constantFrom(1, 1, 1, 1, 0, 2),
    fields: fc.array(fc.tuple(headerName, fieldValue), { maxLength: 6 }),
    connection: fc.constantFrom('', '', 'keep-alive', 'close', 'Keep-Alive', 'upgrade', 'keep-alive, Upgrade'),
    upgrade: fc.constantFrom('', '', 'websocket', 'h2c'),
    body,
  })
  .map((r) => {
    let served = SERVED.includes(r.method) && (r.target !== '*' || r.method === 'OPTIONS');
    let s = `${r.method} ${r.target} HTTP/1.${r.minor}\r\n`;
    for (let i = 0; i < r.hostCount; i++) s += `Host: ${r.host}\r\n`;
    if (r.minor === 1 && r.hostCount !== 1) served = false;
    if (r.hostCount > 1) served = false;
    for (const [n, v] of r.fields) {
      s += `${n}: ${v}\r\n`;
      if (/^(host|content-length|transfer-encoding|connection|upgrade|expect|proxy-connection)$/i.test(n)) served = false;
    }
    if (r.connection !== '') s += `Connection: ${r.connection}\r\n`;
    if (r.upgrade !== '') s += `Upgrade: ${r.upgrade}\r\n`;
    const upgrades = /upgrade/i.test(r.connection) && r.upgrade !== '';
    if (r.body.kind === 'length') s += `Content-Length: ${r.body.data.length}\r\n\r\n${r.body.data}`;
    else if (r.body.kind === 'chunked') {
      s += `Transfer-Encoding: ${r.body.codings}chunked\r\n\r\n${r.body.body}`;
      if (r.minor === 0) served = false;
    } else s += '\r\n';
    if (upgrades && r.body.kind !== 'none' && !(r.body.kind === 'length' && r.body.data.length === 0)) served = false;
    return { text: s, served };
  });

/** One to three requests on one connection. */
export const requests: fc.Arbitrary<Generated> = fc.array(request, { minLength: 1, maxLength: 3 }).map((rs) => ({
  text: rs.map((r) => r.text).join(''),
  served: rs[0]!.served,
}));

const response: fc.Arbitrary<Generated & { informational: boolean }> = fc
  .record({
    minor: fc.constantFrom(1, 1, 1, 0),
    status: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(200, 201, 204, 301, 304, 404, 500) }, { weight: 1, arbitrary: fc.constantFrom(100, 101, 103, 199) }),
    reason: fc.constantFrom('OK', '', 'Not Found', 'A reason\twith tab', 'caf\xe9'),
    fields: fc.array(fc.tuple(headerName, fieldValue), { maxLength: 6 }),
    connection: fc.constantFrom('', '', 'keep-alive', 'close', 'Keep-Alive'),
    body: fc.oneof(body, fc.constant({ kind: 'close' as const, data: 'until the end' })),
  })
  .map((r) => {
    let s = `HTTP/1.${r.minor} ${r.status} ${r.reason}\r\n`;
    for (const [n, v] of r.fields) s += `${n}: ${v}\r\n`;
    if (r.connection !== '') s += `Connection: ${r.connection}\r\n`;
    const noBody = r.status < 200 || r.status === 204 || r.status === 304;
    if (r.body.kind === 'length') s += `Content-Length: ${r.body.data.length}\r\n\r\n${noBody ? '' : r.body.data}`;
    else if (r.body.kind === 'chunked') s += `Transfer-Encoding: ${r.body.codings}chunked\r\n\r\n${noBody ? '' : r.body.body}`;
    else if (r.body.kind === 'close') s += `\r\n${noBody ? '' : r.body.data}`;
    else s += noBody ? '\r\n' : 'Content-Length: 0\r\n\r\n';
    const informational = r.status < 200 && r.status !== 101;
    const closes = /close/i.test(r.connection) || (r.minor === 0 && !/keep-alive/i.test(r.connection));
    const served = !r.fields.some(([n]) => /^(content-length|transfer-encoding|connection|proxy-connection)$/i.test(n)) && !(informational && closes);
    return { text: s, served, informational };
  });

/** A response, maybe after 1xx ones, maybe followed by an unsolicited one. */
export const responses: fc.Arbitrary<Generated> = fc.array(response, { minLength: 1, maxLength: 3 }).map((rs) => ({
  text: rs.map((r) => r.text).join(''),
  served: rs[0]!.served,
}));

/** The request method a response answers. */
export const requestMethod: fc.Arbitrary<string> = fc.constantFrom('GET', 'GET', 'POST', 'HEAD');

/** Bytes that break parsers when they appear where they should not. */
const HOSTILE = ['\r', '\n', '\0', ' ', '\t', ':', ',', ';', '=', '"', '\x7f', '\x80', '\xff', '\x0b', '\x0c', '\x01', '\xa0', '\x85', 'a', '0', 'f', '\r\n', '\r\n '];

/** smuggler's gadgets (defparam/smuggler configs), re-expressed: ways to write Transfer-Encoding. */
export const SMUGGLER_GADGETS: readonly string[] = [
  ' Transfer-Encoding: chunked', 'Transfer-Encoding:\tchunked', 'Transfer-Encoding\t:\tchunked', 'Transfer Encoding: chunked',
  'Transfer_Encoding: chunked', 'Transfer Encoding:chunked', 'Transfer-Encoding : chunked', 'Transfer-Encoding:  chunked',
  'Transfer-Encoding:\x0bchunked', 'Transfer-Encoding: chunked, cow', 'Transfer-Encoding: cow, chunked', 'Content-Encoding: chunked',
  'Transfer-Encoding:\n chunked', 'Transfer-Encoding: "chunked"', "Transfer-Encoding: 'chunked'", 'Transfer-Encoding: chunk',
  'TrAnSFer-EnCODinG: cHuNkeD', 'TRANSFER-ENCODING: CHUNKED', 'Transfer-Encoding: chunked\r', 'Transfer-Encoding: chunked\t',
  'Transfer-Encoding: cow\r\nTransfer-Encoding: chunked', 'Transfer\r-Encoding: chunked', 'Transfer-Encoding: cow chunked bar',
  'Transfer-Encoding:\xffchunked', 'Transfer-Encoding: ch\x96nked', 'Transf\x82r-Encoding: chunked', 'X:X\rTransfer-Encoding: chunked',
  'X:X\nTransfer-Encoding: chunked', 'Transfer-Encoding: chunked\r\n chunked', 'Content-Length: 5\r\n 0', 'Content-Length: 5, 5',
];

/** A mutation, as data (so a counterexample prints readably). */
export type Mutation =
  | { op: 'set'; p: number; c: string }
  | { op: 'insert'; p: number; c: string }
  | { op: 'delete'; p: number }
  | { op: 'bare'; p: number }
  | { op: 'fold' | 'dup'; p: number }
  | { op: 'case'; p: number }
  | { op: 'gadget'; g: string; cl: number | null }
  | { op: 'truncate'; p: number };

const at = (s: string, p: number): number => (s.length === 0 ? 0 : p % (s.length + 1));

export function applyMutation(s: string, m: Mutation): string {
  switch (m.op) {
    case 'set':
      return s.slice(0, at(s, m.p)) + m.c + s.slice(at(s, m.p) + 1);
    case 'insert':
      return s.slice(0, at(s, m.p)) + m.c + s.slice(at(s, m.p));
    case 'delete':
      return s.slice(0, at(s, m.p)) + s.slice(at(s, m.p) + 1);
    case 'bare': {
      // A CRLF made a bare LF (or a bare CR).
      const crlfs = [...s.matchAll(/\r\n/g)].map((x) => x.index);
      if (crlfs.length === 0) return s;
      const i = crlfs[m.p % crlfs.length]!;
      return m.p % 3 === 0 ? s.slice(0, i + 1) + s.slice(i + 2) : s.slice(0, i) + s.slice(i + 1);
    }
    case 'fold':
    case 'dup': {
      // A line folded onto the one before, or duplicated.
      const lines = s.split('\r\n');
      const k = m.p % lines.length;
      if (m.op === 'fold') lines[k] = (m.p % 2 === 0 ? ' ' : '\t') + lines[k];
      else lines.splice(k, 0, lines[k]!);
      return lines.join('\r\n');
    }
    case 'case': {
      const i = at(s, m.p);
      const c = s.charAt(i);
      return s.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + s.slice(i + 1);
    }
    case 'gadget': {
      // A gadget after the first line, maybe with a Content-Length (CL.TE / TE.CL probes).
      const i = s.indexOf('\r\n');
      if (i === -1) return s;
      return s.slice(0, i + 2) + m.g + '\r\n' + (m.cl === null ? '' : `Content-Length: ${m.cl}\r\n`) + s.slice(i + 2);
    }
    case 'truncate':
      return s.slice(0, at(s, m.p));
  }
}

const byte = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), p: fc.nat(), c: fc.oneof(byte, fc.constantFrom(...HOSTILE)) }),
  fc.record({ op: fc.constant('insert' as const), p: fc.nat(), c: fc.oneof(byte, fc.constantFrom(...HOSTILE)) }),
  fc.record({ op: fc.constant('delete' as const), p: fc.nat() }),
  fc.record({ op: fc.constant('bare' as const), p: fc.nat() }),
  fc.record({ op: fc.constantFrom('fold' as const, 'dup' as const), p: fc.nat() }),
  fc.record({ op: fc.constant('case' as const), p: fc.nat() }),
  fc.record({ op: fc.constant('gadget' as const), g: fc.constantFrom(...SMUGGLER_GADGETS), cl: fc.option(fc.nat(40)) }),
  fc.record({ op: fc.constant('truncate' as const), p: fc.nat() }),
);

/** `gen`'s text and one to three mutations of it; {@link mutate} applies them. */
export function mutated(gen: fc.Arbitrary<Generated>): fc.Arbitrary<{ text: string; mutations: Mutation[] }> {
  return fc.record({ text: gen.map((g) => g.text), mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }) });
}

export function mutate(m: { text: string; mutations: readonly Mutation[] }): string {
  return m.mutations.reduce(applyMutation, m.text);
}

/** Where to cut the bytes fed to Baton, as fractions. */
export const splits: fc.Arbitrary<number[]> = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 });

/** A chunked request head followed by a (maybe mutated) chunked body: mutations land in the body. */
export const chunkedBodies: fc.Arbitrary<{ text: string; mutations: Mutation[] }> = fc.record({
  text: chunkedBody,
  mutations: fc.array(mutation.filter((m) => m.op !== 'gadget'), { maxLength: 2 }),
});

/** Ways to write the framing fields: spacing, case, zeros, lists, codings, folds, repeats. */
const FRAMING_LINES: readonly string[] = [
  'Content-Length: 5', 'Content-Length: 005', 'Content-Length:5', 'Content-Length:  5  ', 'Content-Length:\t5', 'Content-Length: 5\t',
  'Content-Length: +5', 'Content-Length: 5, 5', 'Content-Length: 5 5', 'Content-Length: 0x5', 'Content-Length: ', 'content-length: 5',
  'Content-Length: 99999999999999999999', 'Content-Length: 5\r\n 5', 'Content-Length: 5\r\nContent-Length: 5',
  'Transfer-Encoding: chunked', 'transfer-encoding: CHUNKED', 'Transfer-Encoding: chunked ', 'Transfer-Encoding:chunked',
  'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: gzip,chunked', 'Transfer-Encoding: gzip , chunked', 'Transfer-Encoding: identity, chunked',
  'Transfer-Encoding: chunked, gzip', 'Transfer-Encoding: chunked, chunked', 'Transfer-Encoding: gzip', 'Transfer-Encoding: ,chunked',
  'Transfer-Encoding: gzip;q=1, chunked', 'Transfer-Encoding: "chunked"', 'Transfer-Encoding: chunked\t', 'Transfer-Encoding:\tchunked',
  'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked', 'Transfer-Encoding: gzip\r\n chunked',
  'Transfer-Encoding: chunked\r\nContent-Length: 5', 'Content-Length: 5\r\nTransfer-Encoding: chunked', 'Transfer-Encoding:', 'Transfer-Encoding: chunk',
  'Connection: close', 'Connection: close\t', 'Connection: keep-alive', 'Connection: keep-alive\t', 'Connection: Upgrade', 'Connection: content-length',
  'Connection: close, keep-alive', 'Proxy-Connection: close', 'Upgrade: websocket', 'Expect: 100-continue', 'Host: b.test', 'Host:',
];

/** A head with a few framing lines drawn from {@link FRAMING_LINES}, a body that fits some of them, then another message. */
export function framingVariants(kind: 'request' | 'response'): fc.Arbitrary<string> {
  return fc
    .record({
      lines: fc.array(fc.constantFrom(...FRAMING_LINES), { minLength: 1, maxLength: 3 }),
      minor: fc.constantFrom(1, 1, 0),
      body: fc.oneof(chunkedBody, fc.constant('hello'), fc.constant(''), fc.constant('5\r\nhello\r\n0\r\n\r\n')),
    })
    .map(({ lines, minor, body }) => {
      const first = kind === 'request' ? `POST /f HTTP/1.${minor}\r\nHost: a.test\r\n` : `HTTP/1.${minor} 200 OK\r\n`;
      const next = kind === 'request' ? 'GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n' : 'HTTP/1.1 204 No Content\r\n\r\n';
      return first + lines.map((l) => l + '\r\n').join('') + '\r\n' + body + next;
    });
}
