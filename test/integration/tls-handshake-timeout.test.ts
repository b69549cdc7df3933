/**
 * A client that opens a connection to the TLS listener and never finishes its handshake (sends
 * nothing, or stops inside its ClientHello) is closed after the handshake timeout (10 s,
 * src/tls/edge.ts), and meanwhile every other client is served: a silent connection holds no
 * more than its socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { configYaml, dispose, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { httpsRequest, tlsSite, type TestCa } from '../helpers/tls.js';

/** The edge's handshake timeout (HANDSHAKE_TIMEOUT_MS in src/tls/edge.ts). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

let dir: string;
let ca: TestCa;
let baton: RunningBaton;
let tlsPort: number;

beforeAll(async () => {
  const site = await tlsSite('baton-tls-silent-', ['localhost']);
  ({ dir, ca, port: tlsPort } = site);
  baton = await startBaton(configYaml({ web: { hosts: ['localhost'] } }, site.section));
});
afterAll(async () => {
  await dispose(baton);
  await removeDir(dir);
});

/** A raw connection to the TLS port that writes `bytes` and then nothing; resolves when Baton closes it (or after `boundMs`). */
function silent(bytes: Buffer, boundMs: number): Promise<{ closedAfterMs: number | undefined; received: number }> {
  return new Promise((resolve) => {
    const began = performance.now();
    let received = 0;
    const socket = net.connect({ host: '127.0.0.1', port: tlsPort }, () => {
      if (bytes.length > 0) socket.write(bytes);
    });
    const bound = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: undefined, received });
    }, boundMs);
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(bound);
      resolve({ closedAfterMs: performance.now() - began, received });
    });
  });
}

/** The first bytes of a TLS 1.2+ ClientHello record: a handshake record header announcing 512 bytes, and the start of the message. */
const PARTIAL_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

describe('TLS handshake timeout', () => {
  it('a client silent from the start, and one that stops inside its ClientHello, are closed after the timeout; others are served meanwhile', async () => {
    const bound = HANDSHAKE_TIMEOUT_MS * 3;
    const quiet = silent(Buffer.alloc(0), bound);
    const partial = silent(PARTIAL_HELLO, bound);
    // While both wait, HTTPS requests are answered.
    for (let i = 0; i < 5; i++) expect((await httpsRequest(tlsPort, ca.pem, { path: '/version' })).status).toBe(200);
    const [q, p] = await Promise.all([quiet, partial]);
    for (const r of [q, p]) {
      expect(r.closedAfterMs, 'closed by Baton, not by the test').toBeDefined();
      // Not cut at once: a slow client gets the time it was promised.
      expect(r.closedAfterMs!).toBeGreaterThan(HANDSHAKE_TIMEOUT_MS * 0.9);
      expect(r.received).toBeLessThan(100); // at most an alert, no certificate
    }
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version' })).status).toBe(200);
  }, 60_000);
});
