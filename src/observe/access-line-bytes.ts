/**
 * The access log line of access-line.ts written as bytes straight into the log's buffer: the
 * same text, byte for byte (test/unit/observe/access-line-bytes.test.ts compares the two), but
 * no string made per line and none to encode again: keys are copied from bytes made once,
 * numbers written digit by digit, and a string from the request copied as it is checked for
 * what JSON must escape. A string that needs escaping (or is not ASCII) is the one case that
 * goes through JSON.stringify and UTF-8, as in accessLine. This is where a busy proxy spends
 * the access log's time (issue 16: within 10% of a request's cost).
 */
import { ms, type AccessFields } from './access-line.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

const K_TIME = bytes('{"time":"');
const K_KIND = bytes('","kind":"');
const K_SERVICE = bytes('","service":');
const K_HOST = bytes(',"host":');
const K_METHOD = bytes(',"method":');
const K_PATH = bytes(',"path":');
const K_STATUS = bytes(',"status":');
const K_BYTES_IN = bytes(',"bytes_in":');
const K_BYTES_OUT = bytes(',"bytes_out":');
const K_DURATION = bytes(',"duration_ms":');
const K_TTFB = bytes(',"ttfb_ms":');
const K_VERSION = bytes(',"version":');
const K_UPSTREAM = bytes(',"upstream":');
const K_REQUEST_ID = bytes(',"request_id":');
const K_CLIENT = bytes(',"client":');
const K_USER_AGENT = bytes(',"user_agent":');
const K_PROTOCOL = bytes(',"protocol":');
const K_TLS = bytes(',"tls":');
const K_HELD = bytes(',"held_ms":');
const K_ATTEMPTS = bytes(',"attempts":');
const K_OUTCOME = bytes(',"outcome":');
const K_TRACEPARENT = bytes(',"traceparent":');
const K_END = bytes('}\n');
const NULL = bytes('null');

const KEYS = [K_TIME, K_KIND, K_SERVICE, K_HOST, K_METHOD, K_PATH, K_STATUS, K_BYTES_IN, K_BYTES_OUT, K_DURATION, K_TTFB, K_VERSION, K_UPSTREAM, K_REQUEST_ID, K_CLIENT, K_USER_AGENT, K_PROTOCOL, K_TLS, K_HELD, K_ATTEMPTS, K_OUTCOME, K_TRACEPARENT, K_END];
/** Keys, the time (with `"` after it), seven numbers of at most 32 bytes each. */
const FIXED_BYTES = KEYS.reduce((n, k) => n + k.length, 0) + 32 + 7 * 32;

const QUOTE = 0x22;

/**
 * At most the bytes of the line of `f`: a UTF-16 code unit is at most 6 bytes once escaped
 * (`\u001f`) or encoded (3 in UTF-8), plus the quotes.
 */
export function maxLineBytes(f: AccessFields): number {
  return (
    FIXED_BYTES +
    textBound(f.kind) +
    textBound(f.service) +
    textBound(f.host) +
    textBound(f.method) +
    textBound(f.path) +
    textBound(f.version) +
    textBound(f.upstream) +
    textBound(f.request_id) +
    textBound(f.client) +
    textBound(f.user_agent) +
    textBound(f.protocol) +
    textBound(f.tls) +
    textBound(f.outcome) +
    textBound(f.traceparent)
  );
}

function textBound(s: string | null): number {
  return s === null ? 4 : 6 * s.length + 2;
}

/**
 * Write the line of `f` at `at` (`maxLineBytes(f)` bytes must be free there); returns where it
 * ends. Byte for byte `accessLine(time, f)` in UTF-8.
 */
export function writeAccessLine(buf: Buffer, at: number, time: string, f: AccessFields): number {
  let o = put(buf, at, K_TIME);
  o = ascii(buf, o, time);
  o = put(buf, o, K_KIND);
  o = ascii(buf, o, f.kind);
  o = put(buf, o, K_SERVICE);
  o = safe(buf, o, f.service);
  o = put(buf, o, K_HOST);
  o = str(buf, o, f.host);
  o = put(buf, o, K_METHOD);
  o = safe(buf, o, f.method);
  o = put(buf, o, K_PATH);
  o = str(buf, o, f.path);
  o = put(buf, o, K_STATUS);
  o = int(buf, o, f.status);
  o = put(buf, o, K_BYTES_IN);
  o = int(buf, o, f.bytes_in);
  o = put(buf, o, K_BYTES_OUT);
  o = int(buf, o, f.bytes_out);
  o = put(buf, o, K_DURATION);
  o = millis(buf, o, f.duration_ms);
  o = put(buf, o, K_TTFB);
  o = f.ttfb_ms === null ? put(buf, o, NULL) : millis(buf, o, f.ttfb_ms);
  o = put(buf, o, K_VERSION);
  o = safe(buf, o, f.version);
  o = put(buf, o, K_UPSTREAM);
  o = safe(buf, o, f.upstream);
  o = put(buf, o, K_REQUEST_ID);
  o = str(buf, o, f.request_id);
  o = put(buf, o, K_CLIENT);
  o = str(buf, o, f.client);
  o = put(buf, o, K_USER_AGENT);
  o = str(buf, o, f.user_agent);
  o = put(buf, o, K_PROTOCOL);
  o = safe(buf, o, f.protocol);
  o = put(buf, o, K_TLS);
  o = safe(buf, o, f.tls);
  o = put(buf, o, K_HELD);
  o = millis(buf, o, f.held_ms);
  o = put(buf, o, K_ATTEMPTS);
  o = int(buf, o, f.attempts);
  o = put(buf, o, K_OUTCOME);
  o = safe(buf, o, f.outcome);
  o = put(buf, o, K_TRACEPARENT);
  o = str(buf, o, f.traceparent);
  return put(buf, o, K_END);
}

function put(buf: Buffer, o: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) buf[o++] = b[i]!;
  return o;
}

/** `s` as it is, or in UTF-8 if it is not ASCII (accessLine's template does no more). */
function ascii(buf: Buffer, o: number, s: string): number {
  const start = o;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return start + buf.write(s, start, 'utf8');
    buf[o++] = c;
  }
  return o;
}

/** accessLine's `safe`: a string Baton made or validated, quoted as it is; null for none. */
function safe(buf: Buffer, o: number, s: string | null): number {
  if (s === null) return put(buf, o, NULL);
  buf[o++] = QUOTE;
  o = ascii(buf, o, s);
  buf[o++] = QUOTE;
  return o;
}

/** accessLine's `str`: printable ASCII without `"` or `\` as it is, anything else through JSON.stringify. */
function str(buf: Buffer, o: number, s: string | null): number {
  if (s === null) return put(buf, o, NULL);
  const start = o;
  buf[o++] = QUOTE;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === 0x5c) return start + buf.write(JSON.stringify(s), start, 'utf8');
    buf[o++] = c;
  }
  buf[o++] = QUOTE;
  return o;
}

/** `${n}` for a number; digit by digit for the usual case, a whole number from 0 to 2^53. */
function int(buf: Buffer, o: number, n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 0)) return ascii(buf, o, `${n}`);
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  let at = o + digits;
  const end = at;
  do {
    const q = Math.floor(n / 10);
    buf[--at] = 0x30 + (n - q * 10);
    n = q;
  } while (n > 0);
  return end;
}

/** accessLine's `ms`: milliseconds to the microsecond. */
function millis(buf: Buffer, o: number, x: number): number {
  const us = Math.round(x * 1000);
  if (!(us > 0)) {
    buf[o++] = 0x30;
    return o;
  }
  if (!Number.isSafeInteger(us)) return ascii(buf, o, ms(x));
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  o = int(buf, o, whole);
  if (frac === 0) return o;
  buf[o++] = 0x2e;
  buf[o++] = 0x30 + Math.floor(frac / 100);
  buf[o++] = 0x30 + (Math.floor(frac / 10) % 10);
  buf[o++] = 0x30 + (frac % 10);
  return o;
}
