/**
 * The request-target forms Baton serves (RFC 9112 3.2): origin-form `/path?query`,
 * absolute-form `http://authority/path` or `https://...`, and `*` for OPTIONS. Read from bytes
 * the request line has already shown to be visible ASCII without `#`.
 */

/** Where the parts of a target lie, as offsets into the head's bytes. */
export interface TargetSpans {
  /** The form of the target. */
  form: 'origin' | 'absolute' | 'asterisk';
  /** The authority of an absolute-form target; -1 otherwise. */
  authorityStart: number;
  authorityEnd: number;
  /** Where the path (or, with no path, the query) of an absolute-form target starts. */
  pathStart: number;
}

/** RFC 3986 authority bytes Baton accepts: host (reg-name, IPv4, IP-literal) and port; no userinfo. */
const AUTHORITY: Uint8Array = (() => {
  const t = new Uint8Array(128);
  const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:[]";
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
})();

/**
 * Reads the target `buf[start, end)` into `out`. Returns undefined when it is in a served form,
 * else why not (the request is declined: llhttp and node:http decide about it).
 */
export function readTarget(buf: Uint8Array, start: number, end: number, method: string, out: TargetSpans): string | undefined {
  out.authorityStart = -1;
  out.authorityEnd = -1;
  out.pathStart = start;
  const c0 = buf[start];
  if (c0 === 0x2f) {
    out.form = 'origin';
    return undefined;
  }
  if (c0 === 0x2a) {
    if (end - start !== 1 || method !== 'OPTIONS') return 'asterisk-form is for OPTIONS * only';
    out.form = 'asterisk';
    return undefined;
  }
  // "http://" or "https://", scheme in any case.
  let i = start;
  if ((buf[i++]! | 0x20) !== 0x68 || (buf[i++]! | 0x20) !== 0x74 || (buf[i++]! | 0x20) !== 0x74 || (buf[i++]! | 0x20) !== 0x70) {
    return 'request target in neither origin-form nor absolute-form';
  }
  if ((buf[i]! | 0x20) === 0x73) i++;
  if (i + 3 > end || buf[i] !== 0x3a || buf[i + 1] !== 0x2f || buf[i + 2] !== 0x2f) return 'absolute-form target with a scheme other than http or https';
  i += 3;
  const as = i;
  while (i < end) {
    const c = buf[i]!;
    if (c === 0x2f || c === 0x3f) break;
    if (AUTHORITY[c] !== 1) return c === 0x40 ? 'userinfo in the target authority' : 'invalid byte in the target authority';
    i++;
  }
  if (i === as || buf[as] === 0x3a) return 'absolute-form target without a host';
  out.form = 'absolute';
  out.authorityStart = as;
  out.authorityEnd = i;
  out.pathStart = i;
  return undefined;
}
