import { TLSSocket } from 'node:tls';

/**
 * The TLS version a connection negotiated (`TLSv1.3`, `TLSv1.2`), for the access log's `tls`
 * field; undefined for a plain socket. Read once per connection: a closed TLS socket no longer
 * knows it.
 */
export function tlsVersionOf(socket: unknown): string | undefined {
  return socket instanceof TLSSocket ? (socket.getProtocol() ?? undefined) : undefined;
}
