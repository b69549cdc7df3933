/**
 * Binding the public listeners: the plain one, then the TLS one, each bound or taken over from
 * the `fd` a predecessor handed over; a failure names the config key and the address.
 */
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { BatonError } from './errors.js';
import type { ProxyServer } from './proxy/server.js';
import type { TlsEdge } from './tls/edge.js';

/** Bind (or take over) the public listener, then the TLS one; resolves with the public address as `host:port`. */
export async function listenPublic(proxy: ProxyServer, tls: TlsEdge | undefined, config: Config, log: Logger, fds: { fd?: number | undefined; tlsFd?: number | undefined } = {}): Promise<string> {
  const bound = await proxy.listen(fds.fd).catch((err: NodeJS.ErrnoException) => {
    throw listenError(err, 'listen', config.listen);
  });
  if (tls !== undefined) {
    const tlsBound = await proxy.listenTls(fds.tlsFd === undefined ? undefined : { fd: fds.tlsFd }).catch((err: NodeJS.ErrnoException) => {
      throw listenError(err, 'tls.listen', config.tls!.listen);
    });
    tls.started(bound);
    log.info({ listen: tls.status().listen, port: tlsBound?.port }, 'tls listener started');
  }
  return bound.host.includes(':') ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`;
}

/** A listen error as the operator needs it: which key, which address, what to do. */
function listenError(err: NodeJS.ErrnoException, key: string, at: { host: string; port: number }): BatonError {
  const address = at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
  const details = { key, address };
  if (err.code === 'EADDRINUSE') return new BatonError('LISTEN_FAILED', `${key}: ${address} is already in use`, { cause: err, details });
  if (err.code === 'EACCES') return new BatonError('LISTEN_FAILED', `${key}: ${address} needs privileges to bind (a port below 1024?)`, { cause: err, details });
  if (err.code === 'EADDRNOTAVAIL') return new BatonError('LISTEN_FAILED', `${key}: ${address} is not an address of this machine`, { cause: err, details });
  return new BatonError('LISTEN_FAILED', `${key}: cannot listen on ${address}: ${err.message}`, { cause: err, details });
}
