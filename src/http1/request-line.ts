/**
 * The request line (RFC 9112 3) Baton serves: `METHOD SP request-target SP HTTP/1.1|HTTP/1.0
 * CRLF`, scanned from bytes as they arrive, each byte once. Decided at the first byte that
 * decides: a byte no method starts with, no target, a fragment or a non-visible byte in it, an
 * HTTP version llhttp refuses, anything but CRLF after it: declined; RTSP/ICE, HTTP/2.0 and
 * HTTP/0.9 (llhttp takes them): rejected with 505; CONNECT: 405 (Baton is not a forward proxy).
 * Methods Baton leaves to node:http (methods.ts) and targets it does not serve (target.ts) are
 * declined once the line is complete.
 */

import { MAX_METHOD_LENGTH, isMethodPrefix, methodOf, type Method } from './methods.js';
import { readTarget, type TargetSpans } from './target.js';
import { VCHAR } from './tokens.js';
import type { RequestHeadResult } from './types.js';

/** The one `incomplete` answer (compared by identity). */
export const INCOMPLETE: RequestHeadResult = Object.freeze({ kind: 'incomplete' });

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;

// Where the scan stands.
const METHOD = 0;
const TARGET = 1;
const VERSION = 2;
/** The protocol name is not HTTP's: waiting to see whether it is RTSP's or ICE's. */
const OTHER = 3;
const DONE = 4;

/** The scanner of a request line; the request head parser owns one. */
export class RequestLine {
  /** Once {@link scan} returned undefined: the method, the target's offsets, the version, the line's end. */
  method: Method | undefined;
  targetStart = 0;
  targetEnd = 0;
  minor: 0 | 1 = 1;
  readonly target: TargetSpans = { form: 'origin', authorityStart: -1, authorityEnd: -1, pathStart: 0 };
  /** Offset just past the CRLF. */
  end = 0;
  #step = METHOD;
  #i = 0;

  /** Ready for the next request line. */
  reset(): void {
    this.#step = METHOD;
    this.#i = 0;
    this.method = undefined;
  }

  /** Whether the line has been read to its CRLF and is one Baton serves. */
  get done(): boolean {
    return this.#step === DONE;
  }

  /**
   * Scans on. `buf` holds the head from its first byte, as far as it has arrived; no byte at or
   * past `limit` is looked at. Returns undefined once the line is complete and served, else
   * `incomplete`, `decline` or `reject`.
   */
  scan(buf: Buffer, limit: number): RequestHeadResult | undefined {
    const n = Math.min(buf.length, limit);
    if (this.#step === OTHER) return this.#otherProtocol(buf, this.targetEnd + 1, n, limit);
    let i = this.#i;
    let c = 0;
    if (this.#step === METHOD) {
      while (i < n && (((c = buf[i]!) >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f)) i++;
      if (i > MAX_METHOD_LENGTH) return decline('unknown method');
      if (i === n) return this.#more(i, limit, isMethodPrefix(buf, i) ? undefined : 'unknown method');
      if (c !== SP) return decline(i === 0 ? 'not an HTTP/1 request line' : 'invalid byte in the method');
      const m = methodOf(buf, i);
      if (m === undefined) return decline('unknown method');
      this.method = m;
      this.targetStart = ++i;
      this.#step = TARGET;
    }
    if (this.#step === TARGET) {
      while (i < n && VCHAR[(c = buf[i]!)] === 1 && c !== 0x23) i++;
      if (i === n) return this.#more(i, limit, undefined);
      if (i === this.targetStart) return decline('no request target');
      if (c === CR || c === LF) return reject(505, 'HTTP/0.9 request (no version)');
      if (c !== SP) return decline(c === 0x23 ? 'fragment in the request target' : 'invalid byte in the request target');
      this.targetEnd = i++;
      this.#step = VERSION;
    }
    // "HTTP/1.1" CRLF or "HTTP/1.0" CRLF: ten bytes from the one after the target.
    const vs = this.targetEnd + 1;
    while (i < n) {
      c = buf[i]!;
      const k = i - vs;
      if (k < 5) {
        if (c !== 'HTTP/'.charCodeAt(k)) return this.#otherProtocol(buf, vs, n, limit);
      } else if (k === 5) {
        if (c !== 0x31 && c !== 0x30 && c !== 0x32) return decline('unsupported HTTP version');
      } else if (k === 6) {
        if (c !== 0x2e) return decline('malformed HTTP version');
      } else if (k === 7) {
        const major = buf[i - 2];
        if (major === 0x31 && (c === 0x30 || c === 0x31)) this.minor = c === 0x30 ? 0 : 1;
        else if ((major === 0x30 && c === 0x39) || (major === 0x32 && c === 0x30)) return reject(505, 'not HTTP/1.x');
        else return decline('unsupported HTTP version');
      } else if (k === 8) {
        if (c !== CR) return decline(c === LF ? 'bare LF' : 'junk after the HTTP version');
      } else {
        if (c !== LF) return decline('CR not followed by LF');
        return this.#done(buf, i + 1);
      }
      i++;
    }
    return this.#more(i, limit, undefined);
  }

  /** The protocol name after the target is not HTTP: RTSP or ICE is refused, junk declined. */
  #otherProtocol(buf: Buffer, start: number, n: number, limit: number): RequestHeadResult {
    const seen = n - start;
    for (const name of ['RTSP/', 'ICE/']) {
      let k = 0;
      while (k < seen && k < name.length && buf[start + k] === name.charCodeAt(k)) k++;
      if (k === name.length) return reject(505, `not HTTP (${name.slice(0, -1)})`);
      if (k === seen) {
        // A prefix of it so far: wait for the rest.
        this.#step = OTHER;
        return n >= limit ? decline('head too large') : INCOMPLETE;
      }
    }
    return decline('not an HTTP/1 request line');
  }

  #done(buf: Buffer, end: number): RequestHeadResult | undefined {
    const m = this.method!;
    switch (m.kind) {
      case 'connect':
        return reject(405, 'CONNECT (Baton is not a forward proxy)');
      case 'preface':
        return reject(505, 'HTTP/2 connection preface');
      case 'rtsp':
        return decline('RTSP method with an HTTP version');
      case 'declined':
        return decline(`method ${m.name} is left to node:http`);
    }
    const why = readTarget(buf, this.targetStart, this.targetEnd, m.name, this.target);
    if (why !== undefined) return decline(why);
    this.#step = DONE;
    this.end = end;
    return undefined;
  }

  #more(i: number, limit: number, why: string | undefined): RequestHeadResult {
    if (why !== undefined) return decline(why);
    this.#i = i;
    return i >= limit ? decline('head too large') : INCOMPLETE;
  }
}

function decline(reason: string): RequestHeadResult {
  return { kind: 'decline', reason };
}

function reject(status: 405 | 505, reason: string): RequestHeadResult {
  return { kind: 'reject', status, reason };
}
