/** Session ticket keys on a real node:tls server: renewal on resumption, the key before the last rotation. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { TicketKeys } from '../../../src/tls/tickets.js';
import { handshake, issueCert, makeCa, type TestCa, type TestCert } from '../../helpers/tls.js';
import { removeDir } from '../../helpers/baton.js';

let dir: string;
let ca: TestCa;
let cert: TestCert;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-tickets-'));
  ca = makeCa(dir);
  cert = issueCert(ca, 'site', ['localhost']);
});
afterAll(() => removeDir(dir));

let server: tls.Server | undefined;
let keys: TicketKeys | undefined;
afterEach(async () => {
  keys?.stop();
  await new Promise((r) => (server === undefined ? r(undefined) : server.close(r)));
  server = undefined;
});

/** A TLS server with Baton's ticket keys (rotated by hand here), answering nothing; its port. */
async function serve(): Promise<number> {
  const s = (server = tls.createServer({ cert: cert.pem, key: readFileSync(cert.keyFile), minVersion: 'TLSv1.2' }, (socket) => {
    socket.on('error', () => {});
    setTimeout(() => socket.destroy(), 300); // TLS 1.3 tickets go out after the handshake
  }));
  keys = new TicketKeys(s, 3_600_000);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  keys.start();
  return (s.address() as { port: number }).port;
}

/** A handshake offering `session`; the ticket it got (the last one), if any. */
async function resume(port: number, maxVersion: tls.SecureVersion, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  let ticket: Buffer | undefined;
  const r = await handshake(port, { servername: 'localhost', ca: ca.pem, maxVersion, ...(session === undefined ? {} : { session }), onSession: (s) => (ticket = s) });
  return { reused: r.reused, ticket };
}

describe('session ticket keys', () => {
  it('a resumed TLS 1.3 session gets a new ticket, which resumes in turn (a client keeping only its latest ticket resumes every time)', async () => {
    const port = await serve();
    expect(keys!.install()).toBe(true); // the Node in use has node:tls's ticket callback
    let { ticket } = await resume(port, 'TLSv1.3');
    for (let i = 0; i < 4; i++) {
      const r = await resume(port, 'TLSv1.3', ticket);
      expect(r.reused).toBe(true);
      expect(r.ticket).toBeDefined();
      ticket = r.ticket;
    }
  });

  it.each(['TLSv1.2', 'TLSv1.3'] as const)('%s: a ticket from before the last rotation resumes, one from before the two last does not', async (maxVersion) => {
    const port = await serve();
    const { ticket } = await resume(port, maxVersion);
    keys!.rotate();
    expect((await resume(port, maxVersion, ticket)).reused).toBe(true);
    keys!.rotate();
    expect((await resume(port, maxVersion, ticket)).reused).toBe(false);
  });

  it('keys imported replace the keys in use: tickets of the keys replaced no longer resume', async () => {
    const port = await serve();
    const { ticket } = await resume(port, 'TLSv1.3');
    keys!.import(Buffer.alloc(48, 7));
    expect(keys!.export().equals(Buffer.alloc(48, 7))).toBe(true);
    expect((await resume(port, 'TLSv1.3', ticket)).reused).toBe(false);
  });

  it('every ticket gets its own IV, also past the pool of IVs drawn at once', async () => {
    await serve();
    expect(keys!.install()).toBe(true);
    const context = (server as unknown as { _sharedCreds: { context: { onticketkeycallback: (name: Buffer, iv: Buffer, enc: boolean) => Buffer[] } } })._sharedCreds.context;
    const ivs = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const answer = context.onticketkeycallback(Buffer.alloc(16), Buffer.alloc(16), true);
      expect(answer[4]!.length).toBe(16);
      ivs.add(answer[4]!.toString('hex')); // copied now: node:tls reads it before the next ticket
    }
    expect(ivs.size).toBe(1000);
  });
});
