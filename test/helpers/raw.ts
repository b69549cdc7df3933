import net from 'node:net';
import tls from 'node:tls';

/** Over TLS instead (HTTPS/1.1 by ALPN), trusting `ca`. */
export interface RawTls {
  ca: string;
  servername?: string;
}

/**
 * Send raw bytes (optionally in timed pieces) and collect everything the server answers until
 * it closes the connection or `timeoutMs` passes. `ms` counts from the connection being ready
 * (after the TLS handshake, over TLS).
 */
export function rawExchange(port: number, pieces: Array<string | Buffer | number>, timeoutMs = 5000, over?: RawTls): Promise<{ reply: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    let started = performance.now();
    const socket =
      over === undefined
        ? net.connect(port, '127.0.0.1')
        : tls.connect({ host: '127.0.0.1', port, ca: over.ca, servername: over.servername ?? 'localhost', ALPNProtocols: ['http/1.1'] });
    let reply = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on(over === undefined ? 'connect' : 'secureConnect', async () => {
      started = performance.now();
      for (const p of pieces) {
        if (done) return;
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else socket.write(p);
      }
    });
  });
}
