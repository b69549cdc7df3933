/**
 * Header-list helpers of the end-to-end replay, written from the RFCs rather than from Baton's
 * code (src/proxy/headers.ts), so the replay checks Baton instead of repeating it.
 */

/** Hop-by-hop fields (RFC 9110 7.6.1) and the framing fields: never end-to-end. */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding', 'content-length'];

/** What a request loses on the way up besides: proxy credentials and the fields Baton sets itself. */
export const REQUEST_DROPPED = [...HOP_BY_HOP, 'proxy-authenticate', 'proxy-authorization', 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'];

/**
 * A traceparent a proxy may pass on (W3C Trace Context, "traceparent Header Field Values"):
 * version 00 has exactly four fields, a later version may append more; version ff and all-zero
 * ids are invalid.
 */
export function validTraceparent(value: string): boolean {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/.exec(value);
  if (m === null || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return false;
  return m[1] !== '00' || m[4] === undefined;
}

/** A traceparent an edge starts: version 00, new ids. */
export const NEW_TRACEPARENT_RE = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** `s` without the optional whitespace of HTTP (SP and HTAB only: String.trim also strips 0xA0, 0x0B, 0x0C). */
export function ows(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** Every value of a field (case-insensitive name), in order. */
export function values(headers: readonly string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === lowerName) out.push(headers[i + 1]!);
  return out;
}

/** The field names a message's Connection fields name (lower case), `close` and `keep-alive` aside. */
export function connectionNamed(headers: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values(headers, 'connection')) {
    for (const t of v.split(',')) {
      const k = ows(t).toLowerCase();
      if (k !== '' && k !== 'close' && k !== 'keep-alive') out.add(k);
    }
  }
  return out;
}

/** `headers` without the fields named in `drop` (lower case) and without those `also` says to drop. */
export function without(headers: readonly string[], drop: Iterable<string>, also: (name: string) => boolean = () => false): string[] {
  const set = new Set(drop);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (set.has(name.toLowerCase()) || also(name)) continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/** A Transfer-Encoding list, lower case, in order, over every line of the field. */
export function codings(headers: readonly string[]): string[] {
  return values(headers, 'transfer-encoding')
    .join(',')
    .split(',')
    .map((c) => ows(c).toLowerCase())
    .filter((c) => c !== '');
}

/** Pairs, for messages: `name: value` lines. */
export function show(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) out.push(`${headers[i]}: ${headers[i + 1]}`);
  return out;
}

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A request-target as sent on: origin-form and `*` as they are; absolute-form (RFC 9112 3.2.2)
 * becomes its path and query ('/' when empty), its authority going to Host.
 */
export function originForm(target: string): { path: string; authority: string | undefined } {
  if (target.startsWith('/') || target === '*') return { path: target, authority: undefined };
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/s.exec(target);
  if (m === null) return { path: target, authority: undefined };
  const rest = m[2]!;
  return { path: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest, authority: m[1] === '' ? undefined : m[1] };
}

/** A Buffer, shown short. */
export function brief(b: Buffer | string, max = 160): string {
  const s = typeof b === 'string' ? b : b.toString('latin1');
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...(${s.length} bytes)` : s);
}
