/**
 * W3C Trace Context (`traceparent`, https://www.w3.org/TR/trace-context/) at the edge: a valid
 * one from the client is forwarded unchanged, a missing or malformed one is replaced with a new
 * trace (mode `generate`), or whatever came is passed on as it came (mode `forward`). The value
 * sent upstream is what the access log records, so a request can be followed into the app's
 * traces. Baton records no spans of its own: the parent-id it generates is the edge's.
 */
import { randomFillSync } from 'node:crypto';
import type { TraceparentMode } from '../config/types.js';

export type { TraceparentMode } from '../config/types.js';

/** version-traceid-parentid-flags; a future version may append fields ("-..."). */
const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_PARENT = '0'.repeat(16);

/** Whether `value` is a traceparent a vendor may forward (the spec's parsing rules, version 00 and later). */
export function validTraceparent(value: string): boolean {
  const m = TRACEPARENT_RE.exec(value);
  if (m === null) return false;
  const [, version, trace, parent, , rest] = m;
  if (version === 'ff' || trace === ZERO_TRACE || parent === ZERO_PARENT) return false;
  // Version 00 has exactly four fields; a later one may have more.
  return version !== '00' || rest === undefined;
}

/**
 * Random bytes taken from a pool refilled 4 KiB at a time (one system call per ~170 traces),
 * turned into hex once per refill: a trace's ids are two slices of that text, not two
 * conversions of their own.
 */
const POOL_BYTES = 4096;
const ID_CHARS = 48; // 32 trace-id + 16 parent-id

/**
 * The traceparent setting of the request path, and the ids it generates. One per proxy; its
 * `mode` is changed in place by a reload.
 */
export class TraceContext {
  mode: TraceparentMode;
  readonly #pool = Buffer.allocUnsafe(POOL_BYTES);
  #hex = '';
  #offset = 0;

  constructor(mode: TraceparentMode = 'generate') {
    this.mode = mode;
  }

  /**
   * A new traceparent: version 00, random ids, flags 01 (sampled), so an app whose sampler
   * follows its parent records the trace rather than dropping it.
   */
  generate(): string {
    for (;;) {
      if (this.#offset + ID_CHARS > this.#hex.length) {
        randomFillSync(this.#pool);
        this.#hex = this.#pool.toString('hex');
        this.#offset = 0;
      }
      const at = this.#offset;
      this.#offset += ID_CHARS;
      const trace = this.#hex.slice(at, at + 32);
      const parent = this.#hex.slice(at + 32, at + ID_CHARS);
      if (trace !== ZERO_TRACE && parent !== ZERO_PARENT) return `00-${trace}-${parent}-01`;
    }
  }

  /**
   * What goes upstream for what the client sent (`sent`: its traceparent values, in order):
   * a value to send, and whether the client's `tracestate` must go too (it is meaningless
   * without the traceparent it belonged to).
   */
  outgoing(sent: readonly string[]): { value: string | undefined; dropState: boolean } {
    if (this.mode === 'forward') return { value: sent.length === 0 ? undefined : sent.join(','), dropState: false };
    // More than one traceparent is as invalid as a malformed one.
    if (sent.length === 1 && validTraceparent(sent[0]!)) return { value: sent[0], dropState: false };
    return { value: this.generate(), dropState: sent.length > 0 };
  }
}
