import tls from 'node:tls';
import type { CertificateStore } from './store.js';

/**
 * The TLS server for `acme-tls/1` handshakes (TLS-ALPN-01): it presents the challenge
 * certificate the store holds for the name, and closes. Made once, on the first such handshake.
 */
export function challengeServer(store: CertificateStore, handshakeTimeoutMs: number): tls.Server {
  const server = tls.createServer({
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['acme-tls/1'],
    SNICallback: (name, cb) => {
      const context = store.alpnContext(name);
      if (context === undefined) cb(new Error(`no TLS-ALPN-01 challenge for ${JSON.stringify(name)}`));
      else cb(null, context);
    },
    handshakeTimeout: handshakeTimeoutMs,
  });
  // The handshake was the answer (RFC 8737 3): nothing is read or sent after it.
  server.on('secureConnection', (s: tls.TLSSocket) => s.end());
  server.on('tlsClientError', (_err: Error, s: tls.TLSSocket) => s.destroy());
  return server;
}
