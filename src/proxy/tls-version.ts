import type { Duplex } from 'node:stream';

/**
 * The TLS version a client connection negotiated (`TLSv1.3`, `TLSv1.2`), for the access log;
 * undefined for a plain socket. HTTP/2 sessions expose their socket through a proxy that
 * forwards this call too.
 */
export function tlsVersionOf(socket: Duplex | undefined): string | undefined {
  const getProtocol = (socket as { getProtocol?: () => string | null } | undefined)?.getProtocol;
  if (typeof getProtocol !== 'function') return undefined;
  return getProtocol.call(socket) ?? undefined;
}
