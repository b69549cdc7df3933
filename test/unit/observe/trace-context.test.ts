import { describe, expect, it } from 'vitest';
import { TraceContext, validTraceparent } from '../../../src/proxy/trace-context.js';
import { upstreamHeaders } from '../../../src/proxy/headers.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const base = { remoteAddress: '203.0.113.7', trusted: false, proto: 'http' as const, authority: 'app.test', requestId: 'rid-1', underscores: false };

function fields(out: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < out.length; i += 2) pairs.push([out[i]!.toLowerCase(), out[i + 1]!]);
  return pairs;
}

describe('validTraceparent', () => {
  it('accepts version 00 with four fields and later versions with more', () => {
    expect(validTraceparent(VALID)).toBe(true);
    expect(validTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra')).toBe(true);
  });

  it('refuses all-zero ids, version ff, upper case, extra fields on 00 and wrong lengths', () => {
    for (const bad of [
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      `${VALID}-extra`,
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '',
      'hello',
    ])
      expect(validTraceparent(bad), bad).toBe(false);
  });
});

describe('TraceContext', () => {
  it('generates valid, distinct traceparents, sampled', () => {
    const t = new TraceContext();
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const v = t.generate();
      expect(validTraceparent(v)).toBe(true);
      expect(v.endsWith('-01')).toBe(true);
      seen.add(v.slice(3, 35));
    }
    expect(seen.size).toBe(1000);
  });

  it('generate: forwards a valid one unchanged, replaces a missing, malformed or repeated one', () => {
    const t = new TraceContext('generate');
    expect(t.outgoing([VALID])).toEqual({ value: VALID, dropState: false });
    expect(validTraceparent(t.outgoing([]).value!)).toBe(true);
    expect(t.outgoing([]).dropState).toBe(false);
    const replaced = t.outgoing(['garbage']);
    expect(replaced.value).not.toBe('garbage');
    expect(replaced.dropState).toBe(true);
    expect(t.outgoing([VALID, VALID]).value).not.toBe(VALID);
  });

  it('forward: passes on what came, generates nothing', () => {
    const t = new TraceContext('forward');
    expect(t.outgoing([])).toEqual({ value: undefined, dropState: false });
    expect(t.outgoing(['garbage'])).toEqual({ value: 'garbage', dropState: false });
  });
});

describe('upstreamHeaders with a trace context', () => {
  it('sends the client traceparent once, last, and keeps its tracestate', () => {
    const out = fields(upstreamHeaders(['Host', 'app.test', 'TraceParent', VALID, 'tracestate', 'a=1'], { ...base, trace: new TraceContext() }));
    expect(out.filter(([n]) => n === 'traceparent')).toEqual([['traceparent', VALID]]);
    expect(out.at(-1)).toEqual(['traceparent', VALID]);
    expect(out).toContainEqual(['tracestate', 'a=1']);
  });

  it('replaces a malformed traceparent and drops the tracestate that went with it', () => {
    const out = fields(upstreamHeaders(['Host', 'app.test', 'traceparent', 'bogus', 'tracestate', 'a=1'], { ...base, trace: new TraceContext() }));
    const tp = out.filter(([n]) => n === 'traceparent');
    expect(tp).toHaveLength(1);
    expect(validTraceparent(tp[0]![1])).toBe(true);
    expect(out.some(([n]) => n === 'tracestate')).toBe(false);
  });

  it('without a trace context, traceparent passes as any field', () => {
    const out = fields(upstreamHeaders(['Host', 'app.test', 'traceparent', 'bogus'], base));
    expect(out).toContainEqual(['traceparent', 'bogus']);
  });
});
