import { describe, expect, it } from 'vitest';
import { accessLine, LineClock, ms } from '../../../src/observe/access-line.js';
import { clientAddress } from '../../../src/proxy/client-address.js';
import { FIELDS } from '../../helpers/access-fields.js';


describe('accessLine', () => {
  it('is one JSON object per line, fields in the documented order, times to the microsecond', () => {
    const line = accessLine('2026-01-01T00:00:00.000Z', FIELDS);
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['time', ...Object.keys(FIELDS)]);
    expect(parsed.duration_ms).toBe(1.235);
    expect(parsed.tls).toBeNull();
  });

  it('escapes what a client sent: quotes, backslashes, control and non-ASCII characters', () => {
    const nasty = { ...FIELDS, path: '/a"b\\c', user_agent: 'x\u0000y\n"}{"injected":1', host: 'h\u00e9te' };
    const parsed = JSON.parse(accessLine('t', nasty)) as Record<string, unknown>;
    expect(parsed.path).toBe('/a"b\\c');
    expect(parsed.user_agent).toBe('x\u0000y\n"}{"injected":1');
    expect(parsed.host).toBe('h\u00e9te');
    expect(parsed).not.toHaveProperty('injected');
  });

  it('writes milliseconds to the microsecond as JSON numbers', () => {
    for (const [x, text] of [
      [0, '0'],
      [-1, '0'],
      [0.0004, '0'],
      [0.001, '0.001'],
      [0.0456, '0.046'],
      [1.2346, '1.235'],
      [12.5, '12.500'],
      [1000.0001, '1000'],
    ] as const) {
      expect(ms(x)).toBe(text);
      expect(JSON.parse(ms(x))).toBeCloseTo(Math.max(0, x), 3);
    }
  });

  it('the clock makes one string per millisecond', () => {
    const clock = new LineClock();
    expect(clock.iso(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(clock.iso(0)).toBe(clock.iso(0));
    expect(clock.iso(1)).toBe('1970-01-01T00:00:00.001Z');
  });
});

describe('clientAddress', () => {
  const trusted = new Set(['10.0.0.2', '10.0.0.3']);
  const xff = (v: string): string[] => ['Host', 'a', 'X-Forwarded-For', v];

  it('is the socket peer when the peer is not a trusted proxy, whatever it claims', () => {
    expect(clientAddress('203.0.113.7', xff('1.2.3.4'), trusted)).toBe('203.0.113.7');
  });

  it('is the rightmost X-Forwarded-For entry that is not a trusted proxy', () => {
    expect(clientAddress('10.0.0.2', xff('1.2.3.4, 198.51.100.9, 10.0.0.3'), trusted)).toBe('198.51.100.9');
    expect(clientAddress('10.0.0.2', [...xff('1.2.3.4'), 'x-forwarded-for', '10.0.0.3'], trusted)).toBe('1.2.3.4');
  });

  it('is the peer when a trusted proxy sent no X-Forwarded-For, the first hop when all are trusted', () => {
    expect(clientAddress('10.0.0.2', ['Host', 'a'], trusted)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', xff('10.0.0.3'), trusted)).toBe('10.0.0.3');
  });
});
