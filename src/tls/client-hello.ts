/**
 * The ALPN protocols a TLS ClientHello offers, read from the first bytes of a connection before
 * any TLS is done. Needed for TLS-ALPN-01 (RFC 8737): the validation certificate must be chosen
 * by ALPN (`acme-tls/1`) and server name together, and node:tls picks a certificate by name
 * alone, before it reads ALPN. Pure.
 */

export type HelloRead =
  | { readonly kind: 'incomplete' }
  /** Not a ClientHello Baton can read: let TLS deal with it. */
  | { readonly kind: 'other' }
  | { readonly kind: 'hello'; readonly alpn: readonly string[] };

const INCOMPLETE: HelloRead = { kind: 'incomplete' };
const OTHER: HelloRead = { kind: 'other' };

/** Largest ClientHello record read whole (a TLS record is at most 16 KiB plus its header). */
export const MAX_HELLO_BYTES = 5 + 16_384 + 2048;

/** Read the ALPN list of the ClientHello at the start of `buf` (the first record only). */
export function readClientHello(buf: Buffer): HelloRead {
  if (buf.length < 5) return INCOMPLETE;
  if (buf[0] !== 0x16 || buf[1] !== 0x03) return OTHER; // handshake record, TLS 1.x
  const recordLength = buf.readUInt16BE(3);
  if (buf.length < 5 + recordLength) return INCOMPLETE;
  const end = 5 + recordLength;
  let p = 5;
  if (buf[p] !== 0x01) return OTHER; // ClientHello
  p += 4; // type, 24-bit length (a hello larger than one record is read as far as the record goes)
  p += 2 + 32; // client_version, random
  if (p + 1 > end) return OTHER;
  p += 1 + buf[p]!; // session_id
  if (p + 2 > end) return OTHER;
  p += 2 + buf.readUInt16BE(p); // cipher_suites
  if (p + 1 > end) return OTHER;
  p += 1 + buf[p]!; // compression_methods
  if (p + 2 > end) return { kind: 'hello', alpn: [] };
  const extEnd = Math.min(end, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return OTHER;
    if (type === 16) return { kind: 'hello', alpn: alpnList(buf.subarray(p, p + len)) };
    p += len;
  }
  return { kind: 'hello', alpn: [] };
}

function alpnList(ext: Buffer): string[] {
  if (ext.length < 2) return [];
  const end = Math.min(ext.length, 2 + ext.readUInt16BE(0));
  const out: string[] = [];
  let p = 2;
  while (p < end) {
    const len = ext[p]!;
    if (p + 1 + len > end) break;
    out.push(ext.toString('latin1', p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}
