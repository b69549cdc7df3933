import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { isBatonError } from '../../../src/errors.js';
import { diffConfig } from '../../../src/config/diff.js';

const FILE = '/srv/baton/baton.yaml';
const SERVICES = 'services:\n  web:\n    version: v1\n    process:\n      command: [node, server.js]\n';

function problems(text: string): Array<{ path: string; message: string; line: number }> {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    if (isBatonError(err)) return err.details['problems'] as Array<{ path: string; message: string; line: number }>;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('the tls section', () => {
  it('gets its defaults and absolute paths', () => {
    const c = parseConfig(`tls:\n  certificates:\n    - { cert: certs/site.pem, key: certs/site.key }\n${SERVICES}`, FILE);
    expect(c.tls).toEqual({
      listen: { host: '127.0.0.1', port: 8443 },
      redirectHttp: true,
      certificates: [{ cert: '/srv/baton/certs/site.pem', key: '/srv/baton/certs/site.key' }],
      acme: undefined,
      sessionTickets: { enabled: true, rotateMs: 12 * 3_600_000 },
    });
  });

  it('reads acme with its defaults', () => {
    const c = parseConfig(`tls:\n  acme:\n    directory: https://acme.example/dir\n    email: ops@example.com\n    ca_file: ./ca.pem\n${SERVICES}`, FILE);
    expect(c.tls?.acme).toEqual({
      directory: 'https://acme.example/dir',
      email: 'ops@example.com',
      caFile: '/srv/baton/ca.pem',
      challenge: 'http-01',
      storage: '/srv/baton/acme',
      renewRemaining: 1 / 3,
      retryAfterMs: 60_000,
      checkIntervalMs: 12 * 3_600_000,
    });
  });

  it('needs certificates or acme', () => {
    expect(problems(`tls:\n  listen: 127.0.0.1:8443\n${SERVICES}`)).toContainEqual(expect.objectContaining({ path: 'tls.certificates', line: 1 }));
  });

  it('names the path and line of a bad challenge, directory or listen address', () => {
    const p = problems(`tls:\n  listen: nowhere\n  acme:\n    directory: http://plain.example/dir\n    challenge: dns-01\n${SERVICES}`);
    expect(p).toContainEqual(expect.objectContaining({ path: 'tls.listen', line: 2 }));
    expect(p).toContainEqual(expect.objectContaining({ path: 'tls.acme.directory', line: 4, message: expect.stringContaining('https URL') }));
    expect(p).toContainEqual(expect.objectContaining({ path: 'tls.acme.challenge', line: 5 }));
  });

  it('refuses unknown keys', () => {
    expect(problems(`tls:\n  certificate: x\n${SERVICES}`)).toContainEqual(expect.objectContaining({ path: 'tls.certificate' }));
  });

  it('reads hsts per service: true, or a mapping; absent is off', () => {
    const on = parseConfig(`${SERVICES}    hsts: true\n`, FILE).services.web!;
    expect(on.hsts).toEqual({ maxAgeSeconds: 31_536_000, includeSubdomains: false, preload: false });
    const custom = parseConfig(`${SERVICES}    hsts: { max_age: 60, preload: true }\n`, FILE).services.web!;
    expect(custom.hsts).toEqual({ maxAgeSeconds: 60, includeSubdomains: false, preload: true });
    expect(parseConfig(SERVICES, FILE).services.web!.hsts).toBeUndefined();
  });

  it('a reload applies tls settings in place, and its listen address needs a restart', () => {
    const a = parseConfig(`tls:\n  certificates: [{ cert: a.pem, key: a.key }]\n${SERVICES}`, FILE);
    const b = parseConfig(`tls:\n  redirect_http: false\n  certificates: [{ cert: a.pem, key: a.key }]\n${SERVICES}`, FILE);
    const c = parseConfig(`tls:\n  listen: 127.0.0.1:9443\n  certificates: [{ cert: a.pem, key: a.key }]\n${SERVICES}`, FILE);
    expect(diffConfig(a, b)).toMatchObject({ global: ['tls'], restart_required: [] });
    expect(diffConfig(a, c)).toMatchObject({ global: [], restart_required: ['tls.listen'] });
  });
});
