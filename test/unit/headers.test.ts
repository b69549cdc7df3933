import { describe, it, expect } from 'vitest';
import { RequestIds, downstreamHeaders, fieldValue, isName, lastFieldValue, upstreamHeaders as upstreamList, type ForwardedContext } from '../../src/proxy/headers.js';

type Ctx = Omit<ForwardedContext, 'authority' | 'underscores'> & { underscores?: boolean };
const untrusted: Ctx = { remoteAddress: '203.0.113.7', trusted: false, proto: 'http', requestId: 'rid-1' };
const trusted: Ctx = { ...untrusted, remoteAddress: '10.0.0.2', trusted: true };

/** The fields sent upstream for a request with `sent` (as an object), read back as an object. */
function upstreamHeaders(sent: Record<string, string>, ctx: Ctx): Record<string, string> {
  const flat = Object.entries(sent).flat();
  const out = upstreamList(flat, { underscores: false, ...ctx, authority: sent.host ?? 'fallback.test:80' });
  const obj: Record<string, string> = {};
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i]!.toLowerCase();
    expect(obj, `${name} sent twice`).not.toHaveProperty(name);
    obj[name] = out[i + 1]!;
  }
  return obj;
}

/** The request id chosen for a request carrying `headers`. */
function requestIdOf(req: { headers: Record<string, string> }, ids: RequestIds): string {
  return ids.of(Object.entries(req.headers).flat());
}

function req(headers: Record<string, string>): { headers: Record<string, string> } {
  return { headers };
}

describe('upstreamHeaders', () => {
  it('drops hop-by-hop headers and keeps end-to-end ones', () => {
    const out = upstreamHeaders(
      {
        host: 'app.example.com',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'proxy-authenticate': 'Basic',
        te: 'trailers',
        trailer: 'Expires',
        upgrade: 'h2c',
        accept: 'text/html',
        cookie: 'a=1',
        authorization: 'Bearer t',
      },
      untrusted,
    );
    for (const h of ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade']) {
      expect(out).not.toHaveProperty(h);
    }
    expect(out).toMatchObject({ host: 'app.example.com', accept: 'text/html', cookie: 'a=1', authorization: 'Bearer t' });
  });

  it('drops headers named in Connection', () => {
    const out = upstreamHeaders({ connection: 'close, X-Secret ,x-other', 'x-secret': 's', 'x-other': 'o', 'x-kept': 'k' }, untrusted);
    expect(out).not.toHaveProperty('x-secret');
    expect(out).not.toHaveProperty('x-other');
    expect(out['x-kept']).toBe('k');
  });

  it('replaces X-Forwarded-For with the client address for an untrusted client', () => {
    const out = upstreamHeaders({ 'x-forwarded-for': '1.2.3.4' }, untrusted);
    expect(out['x-forwarded-for']).toBe('203.0.113.7');
  });

  it('appends the client address to X-Forwarded-For for a trusted proxy', () => {
    const out = upstreamHeaders({ 'x-forwarded-for': '1.2.3.4, 5.6.7.8' }, trusted);
    expect(out['x-forwarded-for']).toBe('1.2.3.4, 5.6.7.8, 10.0.0.2');
  });

  it('sets X-Forwarded-For to the client address when none was sent', () => {
    expect(upstreamHeaders({}, trusted)['x-forwarded-for']).toBe('10.0.0.2');
    expect(upstreamHeaders({}, untrusted)['x-forwarded-for']).toBe('203.0.113.7');
  });

  it('sets X-Forwarded-Proto and X-Forwarded-Host from the connection for an untrusted client', () => {
    const out = upstreamHeaders(
      { host: 'app.example.com:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
      { ...untrusted, proto: 'http' },
    );
    expect(out['x-forwarded-proto']).toBe('http');
    expect(out['x-forwarded-host']).toBe('app.example.com:8080');
  });

  it('keeps X-Forwarded-Proto and X-Forwarded-Host from a trusted proxy', () => {
    const out = upstreamHeaders(
      { host: 'internal:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com' },
      { ...trusted, proto: 'http' },
    );
    expect(out['x-forwarded-proto']).toBe('https');
    expect(out['x-forwarded-host']).toBe('app.example.com');
  });

  it('sets X-Forwarded-Proto from the connection when a trusted proxy sent none', () => {
    const out = upstreamHeaders({ host: 'app.example.com' }, { ...trusted, proto: 'https' });
    expect(out['x-forwarded-proto']).toBe('https');
    expect(out['x-forwarded-host']).toBe('app.example.com');
  });

  it('sets X-Request-Id to the id of the request, over what the client sent', () => {
    const out = upstreamHeaders({ 'x-request-id': 'client-id' }, { ...untrusted, requestId: 'chosen-id' });
    expect(out['x-request-id']).toBe('chosen-id');
  });

  it("drops the client's Connection/Upgrade pair (a WebSocket handshake sets its own) and keeps the rest", () => {
    const out = upstreamHeaders({ connection: 'keep-alive, Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' }, untrusted);
    expect(out).not.toHaveProperty('connection');
    expect(out).not.toHaveProperty('upgrade');
    expect(out['sec-websocket-key']).toBe('k');
  });

  // Issue 17: Connection may name any field, but never the ones Baton frames and routes with.
  it.each(['content-length', 'transfer-encoding', 'host', 'x-forwarded-for', 'x-request-id', 'Content-Length, keep-alive', 'close, Transfer-Encoding'])(
    'Connection: %s removes neither Host nor the fields Baton sets, and no framing field passes',
    (named) => {
      const out = upstreamHeaders({ host: 'app.test', connection: named, 'content-length': '35', 'transfer-encoding': 'chunked', 'x-kept': 'k' }, untrusted);
      expect(out.host).toBe('app.test');
      expect(out['x-forwarded-for']).toBe('203.0.113.7');
      expect(out['x-request-id']).toBe('rid-1');
      expect(out).not.toHaveProperty('content-length');
      expect(out).not.toHaveProperty('transfer-encoding');
      expect(out['x-kept']).toBe('k');
    },
  );

  it('sends the authority Baton routed on as Host, first, even when the client sent none', () => {
    const out = upstreamList(['Accept', '*/*'], { ...untrusted, authority: 'listen.test:8080', underscores: false });
    expect(out.slice(0, 2)).toEqual(['host', 'listen.test:8080']);
  });

  it('drops field names with an underscore unless allowed (nginx: underscores_in_headers)', () => {
    expect(upstreamHeaders({ host: 'a', Content_Length: '5', x_api_key: 'k' }, untrusted)).not.toHaveProperty('content_length');
    expect(upstreamHeaders({ host: 'a', x_api_key: 'k' }, { ...untrusted, underscores: true })['x_api_key']).toBe('k');
  });
});

describe('requestIdOf', () => {
  it('keeps a sane X-Request-Id', () => {
    expect(requestIdOf(req({ 'x-request-id': 'abc-123_XYZ.7' }), new RequestIds())).toBe('abc-123_XYZ.7');
  });

  it('keeps an X-Request-Id of exactly 200 characters', () => {
    const id = 'a'.repeat(200);
    expect(requestIdOf(req({ 'x-request-id': id }), new RequestIds())).toBe(id);
  });

  it('generates an id when none was sent', () => {
    const id = requestIdOf(req({}), new RequestIds());
    expect(id).toMatch(/^[\x21-\x7e]{1,200}$/);
  });

  it('generates an id when the one sent holds a newline', () => {
    const id = requestIdOf(req({ 'x-request-id': 'abc\ninjected: yes' }), new RequestIds());
    expect(id).not.toContain('\n');
    expect(id).not.toContain('abc');
  });

  it('generates an id when the one sent ends with a newline', () => {
    const id = requestIdOf(req({ 'x-request-id': 'abc\n' }), new RequestIds());
    expect(id).not.toBe('abc\n');
    expect(id).toMatch(/^[\x21-\x7e]+$/);
  });

  it('generates an id when the one sent is longer than 200 characters', () => {
    const long = 'a'.repeat(201);
    const id = requestIdOf(req({ 'x-request-id': long }), new RequestIds());
    expect(id).not.toBe(long);
    expect(id.length).toBeLessThanOrEqual(200);
  });

  it('generates an id when the one sent is empty or holds a space', () => {
    const ids = new RequestIds();
    expect(requestIdOf(req({ 'x-request-id': '' }), ids)).not.toBe('');
    expect(requestIdOf(req({ 'x-request-id': 'a b' }), ids)).not.toBe('a b');
  });

  it('generated ids are distinct', () => {
    const ids = new RequestIds();
    const seen = new Set(Array.from({ length: 1000 }, () => requestIdOf(req({}), ids)));
    expect(seen.size).toBe(1000);
  });
});

describe('downstreamHeaders', () => {
  it('keeps repeated Set-Cookie headers, in order, with their case', () => {
    const out = downstreamHeaders(['Set-Cookie', 'a=1', 'Content-Type', 'text/plain', 'Set-Cookie', 'b=2', 'set-cookie', 'c=3'], 'rid');
    expect(out).toEqual(['Set-Cookie', 'a=1', 'Content-Type', 'text/plain', 'Set-Cookie', 'b=2', 'set-cookie', 'c=3', 'x-request-id', 'rid']);
  });

  it('drops Transfer-Encoding, Connection and Keep-Alive', () => {
    const out = downstreamHeaders(
      ['Transfer-Encoding', 'chunked', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Content-Type', 'text/html'],
      'rid',
    );
    expect(out).toEqual(['Content-Type', 'text/html', 'x-request-id', 'rid']);
  });

  it('drops Content-Length: Baton frames the answer itself (one length, never two: issue 17)', () => {
    expect(downstreamHeaders(['Content-Length', '5', 'Content-Length', '5', 'ETag', '"1"'], 'rid')).toEqual(['ETag', '"1"', 'x-request-id', 'rid']);
  });

  it('drops headers the upstream named in Connection', () => {
    const out = downstreamHeaders(['Connection', 'close, X-Internal', 'X-Internal', 'secret', 'ETag', '"1"'], 'rid');
    expect(out).toEqual(['ETag', '"1"', 'x-request-id', 'rid']);
  });

  it('adds X-Request-Id when the app sent none', () => {
    const out = downstreamHeaders(['Content-Type', 'text/plain'], 'rid-42');
    expect(out).toEqual(['Content-Type', 'text/plain', 'x-request-id', 'rid-42']);
  });

  it("keeps the app's own X-Request-Id and adds no second one", () => {
    const out = downstreamHeaders(['X-Request-ID', 'app-id', 'Content-Type', 'text/plain'], 'rid-42');
    expect(out).toEqual(['X-Request-ID', 'app-id', 'Content-Type', 'text/plain']);
  });
});

describe('field names', () => {
  it('match whatever the ASCII case a client sent', () => {
    expect(isName('User-Agent', 'user-agent')).toBe(true);
    expect(isName('USER-AGENT', 'user-agent')).toBe(true);
    expect(isName('user-agent', 'user-agent')).toBe(true);
    expect(isName('user-agenT', 'user-agent')).toBe(true);
  });

  it('do not match another name, a longer or shorter one, or a non-ASCII look-alike', () => {
    expect(isName('user-agenu', 'user-agent')).toBe(false);
    expect(isName('user-agents', 'user-agent')).toBe(false);
    expect(isName('user-agen', 'user-agent')).toBe(false);
    // Folding touches only A-Z: a bitwise | 0x20 would turn CR into '-' and '[' into '{'.
    expect(isName('user\ragent', 'user-agent')).toBe(false);
    expect(isName('a[', 'a{')).toBe(false);
    // U+212A KELVIN SIGN lower-cases to 'k' in Unicode, but a field name is ASCII.
    expect(isName('\u212Aeep-alive', 'keep-alive')).toBe(false);
  });

  it('fieldValue finds the first value and lastFieldValue the last, by name in any case', () => {
    const fields = ['Host', 'a.test', 'X-Request-Id', 'first', 'x-request-id', 'second'];
    expect(fieldValue(fields, 'x-request-id')).toBe('first');
    expect(lastFieldValue(fields, 'x-request-id')).toBe('second');
    expect(fieldValue(fields, 'user-agent')).toBeUndefined();
    expect(lastFieldValue(fields, 'user-agent')).toBeUndefined();
  });
});
