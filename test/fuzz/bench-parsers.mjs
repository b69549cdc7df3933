// Micro-benchmark: Baton's http1 parsers against the hand-written ones they replace, on the
// heads every request and response carries. Not part of the test run.
//
//   npx tsc -p tsconfig.json && node test/fuzz/bench-parsers.mjs
//
// Old and new are timed in alternating rounds after a warm-up; the best round is the figure
// least disturbed by other work on the machine. The old lean parser is timed as its listener ran
// it: find CRLF CRLF, make the head a string, parse it.

import { parseLeanHead } from '../../dist/proxy/lean/head.js';
import { ChunkedDecoder as OldChunked, parseHead } from '../../dist/proxy/forward-net-parse.js';
import { ChunkedDecoder } from '../../dist/http1/chunked.js';
import { RequestHeadParser } from '../../dist/http1/request-head.js';
import { ResponseHeadParser } from '../../dist/http1/response-head.js';

const GET = Buffer.from(
  'GET /assets/app.js?v=3 HTTP/1.1\r\n' +
    'Host: www.example.test\r\n' +
    'Connection: keep-alive\r\n' +
    'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"\r\n' +
    'sec-ch-ua-mobile: ?0\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n' +
    'sec-ch-ua-platform: "Linux"\r\n' +
    'Accept: */*\r\n' +
    'Sec-Fetch-Site: same-origin\r\n' +
    'Sec-Fetch-Mode: no-cors\r\n' +
    'Sec-Fetch-Dest: script\r\n' +
    'Referer: https://www.example.test/\r\n' +
    'Accept-Encoding: gzip, deflate, br, zstd\r\n' +
    'Accept-Language: en-GB,en;q=0.9\r\n' +
    'Cookie: session=4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a; theme=dark; _ga=GA1.1.123456789.1700000000\r\n' +
    '\r\n',
  'latin1',
);

const POST = Buffer.from(
  'POST /api/items HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n',
  'latin1',
);

const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5120\r\nDate: Mon, 01 Dec 2025 08:00:00 GMT\r\nCache-Control: no-cache\r\nETag: "5c3-abc"\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n',
  'latin1',
);

const CHUNKED = Buffer.from(Array.from({ length: 16 }, () => '400\r\n' + 'x'.repeat(1024) + '\r\n').join('') + '0\r\n\r\n', 'latin1');

const LIMITS = { maxHeadBytes: 64 * 1024, maxHeaders: 100 };
const OLD_LIMITS = { maxHeadersCount: 100 };

function oldLean(buf) {
  const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
  return parseLeanHead(buf.toString('latin1', 0, end), OLD_LIMITS);
}

const requestParser = new RequestHeadParser(LIMITS);
const responseParser = new ResponseHeadParser(LIMITS);

/** [scenario, old, new]: each pair is timed in alternating rounds, so machine noise hits both alike. */
const pairs = [
  ['browser GET head', () => oldLean(GET), () => requestParser.parse(GET)],
  ['small POST head (the old lean parser declines it at Content-Length)', () => oldLean(POST), () => requestParser.parse(POST)],
  ['response head', () => parseHead(RESPONSE.toString('latin1', 0, RESPONSE.indexOf('\r\n\r\n', 0, 'latin1')), 'GET'), () => responseParser.parse(RESPONSE, 'GET')],
  ['16 KiB chunked body, 1 KiB chunks', () => new OldChunked().feed(CHUNKED, 0, noop, null), () => new ChunkedDecoder().feed(CHUNKED, 0, noop, null)],
];

function noop() {}

// The results must be what each parser is supposed to say, or the timing means nothing.
if (oldLean(GET) === undefined || requestParser.parse(GET).kind !== 'head' || requestParser.parse(POST).kind !== 'head') throw new Error('unexpected parse');
if (responseParser.parse(RESPONSE, 'GET').kind !== 'head') throw new Error('unexpected parse');
if (new ChunkedDecoder().feed(CHUNKED, 0, noop, null) !== CHUNKED.length) throw new Error('unexpected parse');

let sink = 0;
function measure(fn, iterations) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink ^= fn() === undefined ? 0 : 1;
  return Number(process.hrtime.bigint() - t0) / iterations;
}

const ROUNDS = 9;
const fmt = (ns) => ns.toFixed(0).padStart(6);
console.log(`node ${process.version}, llhttp ${process.versions.llhttp}: ns per parse, best and median of ${ROUNDS} alternating rounds`);
console.log(`${''.padEnd(70)}   old best/median    new best/median   new/old (best)`);
for (const [name, oldFn, newFn] of pairs) {
  const iterations = name.includes('chunked') ? 20_000 : 100_000;
  measure(oldFn, iterations);
  measure(newFn, iterations);
  const o = [];
  const n = [];
  for (let r = 0; r < ROUNDS; r++) {
    o.push(measure(oldFn, iterations));
    n.push(measure(newFn, iterations));
  }
  o.sort((a, b) => a - b);
  n.sort((a, b) => a - b);
  const mid = ROUNDS >> 1;
  console.log(`${name.padEnd(70)} ${fmt(o[0])} / ${fmt(o[mid])}    ${fmt(n[0])} / ${fmt(n[mid])}       ${(n[0] / o[0]).toFixed(2)}`);
}
if (sink === 42) console.log('');
