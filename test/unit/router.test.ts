import { describe, it, expect } from 'vitest';
import { Router, hostname } from '../../src/proxy/router.js';

describe('Router', () => {
  it('an exact name beats a wildcard that also matches', () => {
    const r = new Router<string>();
    r.add('*.example.com', 'wild');
    r.add('api.example.com', 'exact');
    expect(r.match('api.example.com')?.value).toBe('exact');
    expect(r.match('www.example.com')?.value).toBe('wild');
  });

  it('an exact name beats a wildcard added after it', () => {
    const r = new Router<string>();
    r.add('api.example.com', 'exact');
    r.add('*.example.com', 'wild');
    expect(r.match('api.example.com')?.value).toBe('exact');
  });

  it('a longer wildcard suffix beats a shorter one, whatever the order they were added in', () => {
    const shortFirst = new Router<string>();
    shortFirst.add('*.example.com', 'short');
    shortFirst.add('*.api.example.com', 'long');
    const longFirst = new Router<string>();
    longFirst.add('*.api.example.com', 'long');
    longFirst.add('*.example.com', 'short');
    for (const r of [shortFirst, longFirst]) {
      expect(r.match('v1.api.example.com')?.value).toBe('long');
      expect(r.match('www.example.com')?.value).toBe('short');
    }
  });

  it('a wildcard matches one label below its suffix', () => {
    const r = new Router<string>();
    r.add('*.example.com', 'wild');
    expect(r.match('a.example.com')?.value).toBe('wild');
  });

  it('a wildcard matches several labels below its suffix', () => {
    const r = new Router<string>();
    r.add('*.example.com', 'wild');
    expect(r.match('a.b.example.com')?.value).toBe('wild');
  });

  it('a wildcard does not match its bare suffix', () => {
    const r = new Router<string>();
    r.add('*.example.com', 'wild');
    expect(r.match('example.com')?.value).toBeUndefined();
  });

  it('a wildcard does not match a name that merely ends with the same letters', () => {
    const r = new Router<string>();
    r.add('*.example.com', 'wild');
    expect(r.match('badexample.com')?.value).toBeUndefined();
  });

  it('the catch-all takes any host nothing else matched', () => {
    const r = new Router<string>();
    r.add('app.example.com', 'app');
    r.add('*.example.com', 'wild');
    r.add('*', 'any');
    expect(r.match('other.org')?.value).toBe('any');
    expect(r.match('example.com')?.value).toBe('any');
    expect(r.match('app.example.com')?.value).toBe('app');
    expect(r.match('x.example.com')?.value).toBe('wild');
  });

  it('no match and no catch-all gives undefined', () => {
    const r = new Router<string>();
    r.add('app.example.com', 'app');
    r.add('*.example.com', 'wild');
    expect(r.match('other.org')?.value).toBeUndefined();
  });

  it('a Host with a port matches the name without it', () => {
    const r = new Router<string>();
    r.add('app.example.com', 'app');
    r.add('*.example.com', 'wild');
    expect(r.match('app.example.com:8080')?.value).toBe('app');
    expect(r.match('x.example.com:443')?.value).toBe('wild');
  });

  it('Host matching ignores case, in the header and in the pattern', () => {
    const r = new Router<string>();
    r.add('App.Example.COM', 'app');
    r.add('*.EXAMPLE.com', 'wild');
    expect(r.match('APP.example.com')?.value).toBe('app');
    expect(r.match('WWW.Example.Com')?.value).toBe('wild');
  });

  it('a trailing dot in Host (fully qualified name) is ignored', () => {
    const r = new Router<string>();
    r.add('app.example.com', 'app');
    r.add('*.example.com', 'wild');
    expect(r.match('app.example.com.')?.value).toBe('app');
    expect(r.match('app.example.com.:8080')?.value).toBe('app');
    expect(r.match('x.example.com.')?.value).toBe('wild');
  });

  it('an IPv6 literal with a port matches the bracketed address', () => {
    const r = new Router<string>();
    r.add('[::1]', 'loopback6');
    expect(r.match('[::1]:8080')?.value).toBe('loopback6');
    expect(r.match('[::1]')?.value).toBe('loopback6');
  });

  it('an IPv6 literal is not cut at its first colon', () => {
    const r = new Router<string>();
    r.add('[::1]', 'loopback6');
    r.add('[::2]', 'other6');
    expect(r.match('[::2]:8080')?.value).toBe('other6');
  });

  it('a request without Host goes to the catch-all', () => {
    const r = new Router<string>();
    r.add('app.example.com', 'app');
    r.add('*', 'any');
    expect(r.match(undefined)?.value).toBe('any');
    expect(r.match('')?.value).toBe('any');
  });

  it('a request without Host and no catch-all gives undefined', () => {
    const r = new Router<string>();
    r.add('app.example.com', 'app');
    expect(r.match(undefined)?.value).toBeUndefined();
  });
});

describe('hostname', () => {
  it('strips port and trailing dot and lower-cases', () => {
    expect(hostname('WWW.Example.COM.:8443')).toBe('www.example.com');
  });

  it('keeps the brackets of an IPv6 literal and drops its port', () => {
    expect(hostname('[2001:DB8::1]:8080')).toBe('[2001:db8::1]');
  });
});

describe('Router: path prefixes', () => {
  const table = (): Router<string> => {
    const r = new Router<string>();
    r.add('example.com', 'site', '/');
    r.add('example.com', 'api', '/api');
    r.add('example.com', 'api-v2', '/api/v2');
    r.add('*.example.com', 'tenants', '/');
    r.add('*', 'fallback', '/');
    r.add('*', 'status', '/status');
    return r;
  };

  it.each([
    ['example.com', '/', 'site', '/'],
    ['example.com', '/about', 'site', '/'],
    ['example.com', '/api', 'api', '/api'],
    ['example.com', '/api/users', 'api', '/api'],
    ['example.com', '/api?q=1', 'api', '/api'],
    ['example.com', '/apix', 'site', '/'],
    ['example.com', '/api/v2/x', 'api-v2', '/api/v2'],
    ['example.com', '/api/v20', 'api', '/api'],
    ['EXAMPLE.com:8080', '/api', 'api', '/api'],
    ['a.example.com', '/api', 'tenants', '/'],
    ['other.test', '/status/x', 'status', '/status'],
    ['other.test', '/statusx', 'fallback', '/'],
    [undefined, '/status', 'status', '/status'],
  ])('%s %s goes to %s (prefix %s)', (host, path, value, prefix) => {
    expect(table().match(host, path)).toEqual({ value, prefix });
  });

  it('a tier with no prefix covering the path falls through to the next one', () => {
    const r = new Router<string>();
    r.add('example.com', 'api', '/api');
    r.add('*', 'fallback', '/');
    expect(r.match('example.com', '/api/x')?.value).toBe('api');
    expect(r.match('example.com', '/home')?.value).toBe('fallback');
  });

  it('strips a prefix to what the app sees', async () => {
    const { stripPrefix } = await import('../../src/proxy/router.js');
    expect(stripPrefix('/api', '/api/users?x=1')).toBe('/users?x=1');
    expect(stripPrefix('/api', '/api')).toBe('/');
    expect(stripPrefix('/api', '/api?x=1')).toBe('/?x=1');
    expect(stripPrefix('/', '/a')).toBe('/a');
  });
});
