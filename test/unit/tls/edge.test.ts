/** The TLS edge in-process: checkTls, ticket keys handed from one edge to another, certificates by name. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import pino from 'pino';
import { parseConfig } from '../../../src/config/load.js';
import { checkTls } from '../../../src/tls/certificate.js';
import { TlsEdge } from '../../../src/tls/edge.js';
import { isBatonError } from '../../../src/errors.js';
import { handshake, issueCert, makeCa, type TestCa } from '../../helpers/tls.js';
import { removeDir } from '../../helpers/baton.js';

let dir: string;
let ca: TestCa;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-edge-'));
  ca = makeCa(dir);
  issueCert(ca, 'site', ['localhost']);
  issueCert(ca, 'other', ['other.test']);
  writeFileSync(path.join(dir, 'garbage.pem'), 'not a certificate\n');
});
afterAll(() => removeDir(dir));

function config(cert: string, key: string, extra = ''): ReturnType<typeof parseConfig> {
  return parseConfig(`listen: 127.0.0.1:0\ntls:\n  listen: 127.0.0.1:0\n  certificates:\n    - { cert: ${cert}, key: ${key} }\n${extra}services:\n  web:\n    version: v1\n    process:\n      command: ["true"]\n`, path.join(dir, 'baton.yaml'));
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string; file: unknown }> {
  try {
    await p;
  } catch (err) {
    if (isBatonError(err)) return { code: err.code, message: err.message, file: err.details['file'] };
    throw err;
  }
  throw new Error('expected a BatonError');
}

describe('checkTls', () => {
  it('passes readable, matching certificates', async () => {
    await expect(checkTls(config('site.pem', 'site.key'))).resolves.toBeUndefined();
  });

  it('names the unreadable file', async () => {
    const r = await codeOf(checkTls(config('missing.pem', 'site.key')));
    expect(r).toMatchObject({ code: 'CONFIG_INVALID', file: path.join(dir, 'missing.pem') });
    expect(r.message).toContain('tls.certificates[0].cert');
  });

  it('names a file that is no certificate', async () => {
    expect(await codeOf(checkTls(config('garbage.pem', 'site.key')))).toMatchObject({ code: 'CONFIG_INVALID', file: path.join(dir, 'garbage.pem') });
  });

  it('names the key that does not match its certificate', async () => {
    const r = await codeOf(checkTls(config('site.pem', 'other.key')));
    expect(r).toMatchObject({ code: 'CONFIG_INVALID', file: path.join(dir, 'other.key') });
    expect(r.message).toMatch(/does not match/);
  });

  it('names an unreadable acme.ca_file', async () => {
    const c = parseConfig(`tls:\n  acme:\n    directory: https://acme.test/dir\n    ca_file: nope.pem\nservices:\n  web:\n    version: v1\n    process:\n      command: ["true"]\n`, path.join(dir, 'baton.yaml'));
    expect(await codeOf(checkTls(c))).toMatchObject({ code: 'CONFIG_INVALID', file: path.join(dir, 'nope.pem') });
  });
});

describe('session ticket keys', () => {
  const log = pino({ level: 'silent' });
  // Kept open a moment: TLS 1.3 tickets are sent after the handshake.
  const noop = { h1: (s: tls.TLSSocket) => void setTimeout(() => s.destroy(), 300), h2: (s: tls.TLSSocket) => void setTimeout(() => s.destroy(), 300) };

  it('exported from one edge and imported by the next, resume its sessions (a self-upgrade)', async () => {
    const c = config('site.pem', 'site.key');
    const a = await TlsEdge.create(c, log);
    const b = await TlsEdge.create(c, log);
    const aPort = (await a.listen(noop)).port;
    const bPort = (await b.listen(noop)).port;
    try {
      for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
        let session: Buffer | undefined;
        await handshake(aPort, { servername: 'localhost', ca: ca.pem, maxVersion, onSession: (s) => (session = s) });
        expect((await handshake(bPort, { servername: 'localhost', ca: ca.pem, maxVersion, session })).reused).toBe(false);
        b.setTicketKeys(a.ticketKeys());
        expect(b.ticketKeys().equals(a.ticketKeys())).toBe(true);
        expect((await handshake(bPort, { servername: 'localhost', ca: ca.pem, maxVersion, session })).reused).toBe(true);
        b.setTicketKeys(Buffer.alloc(48, maxVersion.length)); // back to keys of its own
      }
    } finally {
      await Promise.all([a.stopAccepting(), b.stopAccepting(), a.stop(), b.stop()]);
    }
  });

  it('refuses keys of the wrong size', async () => {
    const a = await TlsEdge.create(config('site.pem', 'site.key'), log);
    expect(() => a.setTicketKeys(Buffer.alloc(16))).toThrow(RangeError);
    await a.stop();
  });
});

describe('certificates by name', () => {
  it('an ACME host without a certificate yet fails its handshake, whatever the default', async () => {
    const log = pino({ level: 'silent' });
    const c = parseConfig(
      `listen: 127.0.0.1:0\ntls:\n  listen: 127.0.0.1:0\n  certificates:\n    - { cert: site.pem, key: site.key }\n  acme:\n    directory: https://127.0.0.1:1/dir\n    storage: ${path.join(dir, 'acme')}\nservices:\n  web:\n    hosts: [pending.test, localhost]\n    version: v1\n    process:\n      command: ["true"]\n`,
      path.join(dir, 'baton.yaml'),
    );
    const edge = await TlsEdge.create(c, log);
    const port = (await edge.listen({ h1: (s) => void setTimeout(() => s.destroy(), 300), h2: (s) => void setTimeout(() => s.destroy(), 300) })).port;
    try {
      await expect(handshake(port, { servername: 'pending.test' })).rejects.toThrow(/disconnected|reset|handshake/i);
      expect((await handshake(port, { servername: 'localhost', ca: ca.pem })).names).toBe('DNS:localhost');
      expect(Object.keys(edge.status().acme!.hosts)).toEqual(['pending.test']); // localhost is covered by the static certificate
    } finally {
      await edge.stopAccepting();
      await edge.stop();
    }
  });
});
