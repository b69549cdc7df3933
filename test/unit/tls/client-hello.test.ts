import { describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { readClientHello } from '../../../src/tls/client-hello.js';

/** The first bytes node:tls sends as a client offering `alpn`. */
function clientHello(alpn: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.once('data', (d: Buffer) => {
        resolve(d);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'example.com', ALPNProtocols: alpn });
      c.on('error', () => {});
    });
    server.on('error', reject);
  });
}

describe('readClientHello', () => {
  it('reads the ALPN protocols a real ClientHello offers', async () => {
    const hello = await clientHello(['acme-tls/1']);
    expect(readClientHello(hello)).toEqual({ kind: 'hello', alpn: ['acme-tls/1'] });
    expect(readClientHello(await clientHello(['h2', 'http/1.1']))).toEqual({ kind: 'hello', alpn: ['h2', 'http/1.1'] });
  });

  it('asks for more bytes while the record is incomplete', async () => {
    const hello = await clientHello(['h2']);
    for (const n of [0, 3, 5, 40, hello.length - 1]) expect(readClientHello(hello.subarray(0, n)).kind).toBe('incomplete');
  });

  it('says "other" for what is not a TLS handshake', () => {
    expect(readClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')).kind).toBe('other');
  });

  it('never throws on mutated input', async () => {
    const hello = await clientHello(['acme-tls/1', 'h2']);
    for (let i = 5; i < hello.length; i++) {
      for (const v of [0, 0xff, hello[i]! ^ 0x55]) {
        const m = Buffer.from(hello);
        m[i] = v;
        expect(() => readClientHello(m)).not.toThrow();
      }
    }
  });
});
