/**
 * The schema's building blocks: a leaf that validates itself and says what it expected, a
 * strict object that lists the keys it knows, durations and bounded integers.
 */

import { z } from 'zod';
import { parseDuration } from './duration.js';
import { describeValue, MAX_DURATION_MS } from './values.js';

/** What was expected, as returned by a leaf's converter in place of a value. */
export class Expected {
  constructor(readonly text: string) {}
}

/** A leaf that validates itself: `convert` returns the value, or what was expected instead. */
export function leaf<T>(convert: (input: unknown) => T | Expected) {
  return z.unknown().transform((input, ctx): T => {
    const out = convert(input);
    if (!(out instanceof Expected)) return out;
    const got = input === undefined ? 'but the key is missing' : `got ${describeValue(input)}`;
    ctx.addIssue({ code: 'custom', message: `expected ${out.text}, ${got}`, input });
    return z.NEVER;
  });
}

/** A strict object whose unknown-key issue lists the keys it knows. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `expected one of ${known}` : undefined),
  });
}

/** A duration string with a default; `positive` forbids 0 (a zero health interval would spin). */
export function duration(fallback: string, positive = false) {
  return leaf((input) => {
    const ms = typeof input === 'string' ? parseDuration(input) : undefined;
    if (ms === undefined) return new Expected('a duration like "500ms"');
    if (positive && ms === 0) return new Expected('a duration above 0 like "500ms"');
    return ms <= MAX_DURATION_MS ? ms : new Expected('a duration of at most 596h');
  }).prefault(fallback);
}

/** An integer within bounds, with a message saying which ("an integer from 1 to 65535"). */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return leaf((v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : new Expected(range)));
}
