/**
 * Durations as operators write them (`250ms`, `10s`, `2m`, `1h`, `1.5s`) and as Baton prints them.
 * Pure: shared by the config schema, the control API (`pause --timeout`) and the CLI.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

// A unit is required: a bare "500" is ambiguous (ms? s?), so it is rejected rather than guessed.
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/**
 * Parse a duration string into milliseconds.
 *
 * Accepts a non-negative decimal number followed by one of `ms`, `s`, `m`, `h`, with nothing
 * around it: `250ms`, `10s`, `2m`, `1h`, `1.5s`, `0s`.
 *
 * @returns the duration in milliseconds (possibly fractional), or `undefined` for anything else:
 *   bare numbers, negatives, unknown units, empty text.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_RE.exec(text);
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  const ms = value * UNIT_MS[unit];
  return Number.isFinite(ms) ? ms : undefined;
}

/** `toFixed(digits)` without trailing zeros: 1.20 -> "1.2", 1.00 -> "1". */
function trimmed(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, '');
}

/**
 * Format milliseconds for humans, keeping about three significant digits:
 * `0.4` -> `"0.4ms"`, `12` -> `"12ms"`, `1234` -> `"1.23s"`, `90000` -> `"1m30s"`, `3600000` -> `"1h"`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms}ms`;
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 10) return `${trimmed(ms, ms < 1 ? 2 : 1)}ms`;
  if (Math.round(ms) < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 59_995) return `${trimmed(ms / 1_000, 2)}s`;
  const totalSeconds = Math.round(ms / 1_000);
  if (totalSeconds < 3_600) {
    const minutes = Math.floor(totalSeconds / 60);
    const seconds = totalSeconds % 60;
    return seconds === 0 ? `${minutes}m` : `${minutes}m${seconds}s`;
  }
  const totalMinutes = Math.round(totalSeconds / 60);
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  return minutes === 0 ? `${hours}h` : `${hours}h${minutes}m`;
}
