/**
 * The values of the fields that frame a message or decide its connection: Content-Length,
 * Transfer-Encoding and Connection, read strictly from bytes. Each takes the value without its
 * surrounding OWS, `buf[vs, ve)`, and the offset of the CR ending the line, so trailing
 * whitespace can be looked at too: llhttp 9.3 (Node 20) refuses `Content-Length: 5<HTAB>` and
 * does not read `chunked<HTAB>` or `close<HTAB>` as those words, where llhttp 9.4 does; a value
 * that two llhttp versions read differently is never one Baton reads at all.
 */

import { TCHAR, bytesEqualLower } from './tokens.js';

/** Why a framing or Connection value is refused. */
export type FramingError =
  /** HTAB in the value. */
  | 'htab'
  /** A list element that is empty or not a token (`,chunked`, `"chunked"`, `gzip;q=1`). */
  | 'not-token'
  /** chunked before another coding, or twice. */
  | 'chunked-not-last'
  /** An empty value. */
  | 'empty';

/** The Connection fields of a head, accumulated. */
export interface ConnectionInfo {
  /** The tokens, lower case, in order; undefined until the first. */
  tokens: readonly string[] | undefined;
  close: boolean;
  keepAlive: boolean;
  upgrade: boolean;
}

/** Largest Content-Length read (2^53 - 1 has 16 digits; 15 keep every length exact). */
const MAX_LENGTH_DIGITS = 15;

function hasHtab(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] === 0x09) return true;
  return false;
}

/** A Content-Length value: 1*DIGIT, at most 15 digits. Returns the length, or -1. */
export function parseContentLength(buf: Uint8Array, vs: number, ve: number, lineEnd: number): number {
  if (ve === vs || ve - vs > MAX_LENGTH_DIGITS || hasHtab(buf, ve, lineEnd)) return -1;
  let n = 0;
  for (let i = vs; i < ve; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * A Transfer-Encoding value: `token *( OWS "," OWS token )`. Appends the codings before a final
 * chunked to `codings`, lower case. Returns 'chunked' when chunked is the last coding, 'close'
 * when it is absent (all codings appended), or why the value is refused.
 */
export function parseTransferEncoding(
  buf: Uint8Array,
  vs: number,
  ve: number,
  lineEnd: number,
  codings: string[],
): 'chunked' | 'close' | FramingError {
  if (ve === vs) return 'empty';
  if (hasHtab(buf, vs, lineEnd)) return 'htab';
  let i = vs;
  let chunked = false;
  while (i <= ve) {
    let e = i;
    while (e < ve && buf[e] !== 0x2c) e++;
    let s = i;
    let t = e;
    while (s < t && buf[s] === 0x20) s++;
    while (t > s && buf[t - 1] === 0x20) t--;
    if (s === t) return 'not-token';
    for (let j = s; j < t; j++) if (TCHAR[buf[j]!] !== 1) return 'not-token';
    if (chunked) return 'chunked-not-last';
    if (bytesEqualLower(buf, s, t, 'chunked')) chunked = true;
    else codings.push(latin1(buf, s, t).toLowerCase());
    i = e + 1;
  }
  return chunked ? 'chunked' : 'close';
}

/**
 * A Connection value: a comma-separated list of tokens; empty elements are skipped. Adds them
 * to `info`. Returns 'htab' (after reading it all) when the value holds HTAB, 'not-token' when
 * an element is not a token.
 */
export function parseConnection(buf: Uint8Array, vs: number, ve: number, lineEnd: number, info: ConnectionInfo): FramingError | undefined {
  let i = vs;
  while (i <= ve) {
    let e = i;
    while (e < ve && buf[e] !== 0x2c) e++;
    let s = i;
    let t = e;
    while (s < t && (buf[s] === 0x20 || buf[s] === 0x09)) s++;
    while (t > s && (buf[t - 1] === 0x20 || buf[t - 1] === 0x09)) t--;
    i = e + 1;
    if (s === t) continue;
    for (let j = s; j < t; j++) if (TCHAR[buf[j]!] !== 1) return 'not-token';
    switch (t - s) {
      case 5:
        if (bytesEqualLower(buf, s, t, 'close')) {
          info.close = true;
          addToken(info, 'close', ONLY_CLOSE);
          continue;
        }
        break;
      case 7:
        if (bytesEqualLower(buf, s, t, 'upgrade')) {
          info.upgrade = true;
          addToken(info, 'upgrade', ONLY_UPGRADE);
          continue;
        }
        break;
      case 10:
        if (bytesEqualLower(buf, s, t, 'keep-alive')) {
          info.keepAlive = true;
          addToken(info, 'keep-alive', ONLY_KEEP_ALIVE);
          continue;
        }
        break;
    }
    addToken(info, latin1(buf, s, t).toLowerCase(), undefined);
  }
  return hasHtab(buf, vs, lineEnd) ? 'htab' : undefined;
}

// A lone well-known token (`Connection: keep-alive`, on nearly every answer) is a shared list, not a new one.
const ONLY_CLOSE: readonly string[] = Object.freeze(['close']);
const ONLY_UPGRADE: readonly string[] = Object.freeze(['upgrade']);
const ONLY_KEEP_ALIVE: readonly string[] = Object.freeze(['keep-alive']);

/** Appends `token` to `info.tokens`; `only`: the shared list of it alone, if there is one. */
function addToken(info: ConnectionInfo, token: string, only: readonly string[] | undefined): void {
  const tokens = info.tokens;
  if (tokens === undefined) info.tokens = only ?? [token];
  else if (Object.isFrozen(tokens)) info.tokens = [...tokens, token];
  else (tokens as string[]).push(token);
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
}
