import { describe, expect, it } from 'vitest';
import { accessLine, type AccessFields } from '../../../src/observe/access-line.js';
import { maxLineBytes, writeAccessLine } from '../../../src/observe/access-line-bytes.js';
import { FIELDS } from '../../helpers/access-fields.js';


const TIME = '2026-01-01T00:00:00.000Z';

/** The bytes writeAccessLine makes, in a buffer of exactly maxLineBytes filled with garbage. */
function written(f: AccessFields): Buffer {
  const buf = Buffer.alloc(7 + maxLineBytes(f), 0xff);
  const end = writeAccessLine(buf, 7, TIME, f);
  expect(end).toBeLessThanOrEqual(buf.length);
  return buf.subarray(7, end);
}

/** Texts a client may send, each one a case of the escaping rule. */
const TEXTS = ['', 'plain', 'a"quote', 'back\\slash', 'tab\there', 'nl\n', '\u0000', '\u001f', '\u007f', 'caf\u00e9', '\u2028', '\u{1f600}', '\ud800 lone', '/p?q=1&r=2', ' ~!#$%&\'()*+,-./:;<=>?@[]^_`{|}'];

describe('writeAccessLine', () => {
  it('writes the bytes of accessLine for the usual line', () => {
    expect(written(FIELDS).toString('utf8')).toBe(accessLine(TIME, FIELDS));
  });

  it('writes the bytes of accessLine whatever a client sent in each text field', () => {
    for (const key of ['host', 'path', 'request_id', 'client', 'user_agent', 'traceparent'] as const) {
      for (const t of TEXTS) {
        const f = { ...FIELDS, [key]: t };
        expect(written(f).equals(Buffer.from(accessLine(TIME, f), 'utf8')), `${key} = ${JSON.stringify(t)}`).toBe(true);
      }
    }
  });

  it('writes the bytes of accessLine for nulls, and for non-ASCII in the fields Baton makes', () => {
    const nulls: AccessFields = { ...FIELDS, service: null, host: null, method: null, path: null, ttfb_ms: null, version: null, upstream: null, request_id: null, user_agent: null, protocol: null, tls: null, traceparent: null };
    expect(written(nulls).toString('utf8')).toBe(accessLine(TIME, nulls));
    const odd = { ...FIELDS, service: 'caf\u00e9', version: '\u{1f600}', tls: 'TLSv1.3', outcome: 'upstream_error:reset' };
    expect(written(odd).equals(Buffer.from(accessLine(TIME, odd), 'utf8'))).toBe(true);
  });

  it('writes numbers as accessLine does: integers, and milliseconds to the microsecond', () => {
    const ints = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 1234567, 2 ** 31, 2 ** 53 - 1, 2 ** 53, -1, 1.5, NaN, Infinity, 1e21];
    for (const n of ints) {
      const f = { ...FIELDS, status: n, bytes_in: n, bytes_out: n, attempts: n };
      expect(written(f).toString('utf8'), String(n)).toBe(accessLine(TIME, f));
    }
    const times = [0, -1, NaN, Infinity, 0.0004, 0.0005, 0.001, 0.009, 0.01, 0.099, 0.1, 0.5, 1, 1.23456, 9.9995, 10.05, 999.999, 1000, 123456.789, 1e12, 1e15, 1e300];
    for (const x of times) {
      const f = { ...FIELDS, duration_ms: x, ttfb_ms: x, held_ms: x };
      expect(written(f).toString('utf8'), String(x)).toBe(accessLine(TIME, f));
    }
  });

  it('stays within maxLineBytes for long texts that all need escaping', () => {
    const worst = '\u0001'.repeat(2000);
    const f = { ...FIELDS, host: worst, path: worst, user_agent: worst, request_id: worst, traceparent: worst, client: worst };
    expect(written(f).toString('utf8')).toBe(accessLine(TIME, f));
  });
});
