import { describe, expect, it } from 'vitest';
import { NameTable, hostName } from '../../../src/tls/names.js';

describe('NameTable', () => {
  const t = new NameTable<string>();
  t.add(['*.example.com', 'example.com'], 'wild');
  t.add(['a.example.com'], 'exact');
  t.add(['a.example.com', '*.example.com'], 'later');

  it('prefers an exact name over a wildcard', () => {
    expect(t.match('a.example.com')).toBe('exact');
    expect(t.match('b.example.com')).toBe('wild');
  });

  it('keeps the first entry for a name added twice', () => {
    expect(t.match('example.com')).toBe('wild');
  });

  it('lets a wildcard cover exactly one label', () => {
    expect(t.match('x.a.example.com')).toBeUndefined();
    expect(t.match('example.org')).toBeUndefined();
  });

  it('matches names case-insensitively', () => {
    expect(t.match('A.Example.COM')).toBe('exact');
  });
});

describe('hostName', () => {
  it('drops the port, a trailing dot and the case', () => {
    expect(hostName('Example.COM:8443')).toBe('example.com');
    expect(hostName('example.com.')).toBe('example.com');
  });

  it('is undefined for IP literals and empty authorities', () => {
    expect(hostName('127.0.0.1:8080')).toBeUndefined();
    expect(hostName('[::1]:8080')).toBeUndefined();
    expect(hostName(undefined)).toBeUndefined();
    expect(hostName('')).toBeUndefined();
  });
});
