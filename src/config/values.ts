/**
 * The config's leaf values, as pure functions: what a service name, a version, `host:port`, a
 * Host pattern, a path prefix and a byte size may be, and how a YAML value is named in an error.
 * Used by the schema's files and by the control API (a deploy's version).
 */

import { isIP, isIPv6 } from 'node:net';
import type { HostPort } from './types.js';

/** Valid service names (also the `{name}` of control API paths). */
export const SERVICE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

/** Valid versions: safe in image tags, container names and file names. */
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Longest delay a Node.js timer honours; a longer one fires at once (TimeoutOverflowWarning). */
export const MAX_DURATION_MS = 2_147_483_647;

/** What a version must be, as an error message says it. */
export const VERSION_EXPECTED = 'a version like "v2" (up to 128 letters, digits, ".", "_" or "-", not starting with a symbol)';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Describe a YAML value in an error message: strings quoted, collections named. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/**
 * Check a version string.
 * @returns an error message (`expected ..., got ...`), or `undefined` when `v` is valid.
 */
export function validateVersion(v: string): string | undefined {
  return VERSION_RE.test(v) ? undefined : `expected ${VERSION_EXPECTED}, got ${describeValue(v)}`;
}

/** Parse `host:port` or `[ipv6]:port` (port 0-65535; 0 picks a free one). */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  const [, v6, host] = match;
  if (v6 !== undefined) return isIPv6(v6) ? { host: v6, port } : undefined;
  if (host === undefined || (isIP(host) === 0 && !HOSTNAME_RE.test(host.toLowerCase()))) return undefined;
  return { host, port };
}

/**
 * Normalize a Host pattern: `exact.host`, `*.domain.tld`, `[::1]` or `*`, lower-cased.
 * @returns the pattern, or `undefined` when it is none of those (ports are not part of patterns).
 */
export function normalizeHostPattern(pattern: string): string | undefined {
  const p = pattern.toLowerCase();
  if (p === '*') return p;
  if (p.startsWith('[') && p.endsWith(']')) return isIPv6(p.slice(1, -1)) ? p : undefined;
  const host = p.startsWith('*.') ? p.slice(2) : p;
  return host.length <= 253 && HOSTNAME_RE.test(host) ? p : undefined;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Parse a byte size: a non-negative integer, or a string like `"512kb"`, `"10mb"` (1024-based). */
export function parseByteSize(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(input.trim());
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'none'];
  if (match === null || unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A path prefix: "/" or "/seg/seg", matched on whole segments; a trailing "/" is dropped. */
export function normalizePathPrefix(input: string): string | undefined {
  if (!input.startsWith('/') || /[?#\s\\]|\/\//.test(input) || !/^[\x21-\x7e]+$/.test(input)) return undefined;
  return input.length > 1 && input.endsWith('/') ? input.slice(0, -1) : input;
}
