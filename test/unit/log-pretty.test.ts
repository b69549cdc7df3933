import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { prettyLine, prettyRecord } from '../../src/log/pretty.js';
import { chooseLogFormat, createLogger } from '../../src/log/logger.js';
import { jsonObject, logAppLine } from '../../src/log/app-line.js';

const at = new Date(2026, 0, 2, 14, 3, 7, 218).getTime();

describe('the pretty log format', () => {
  it('prints time, level, service, message, then the other fields as key=value', () => {
    const line = prettyRecord({ level: 30, time: at, pid: 9, service: 'web', msg: 'process started', version: 'v2', app_pid: 4121, port: 41234 }, { color: false });
    expect(line).toBe('14:03:07.218 INFO  web     process started  version=v2 app_pid=4121 port=41234');
  });

  it("names Baton's component when there is no service, and quotes values that are not one word", () => {
    const line = prettyRecord({ level: 40, time: at, component: 'control', msg: 'x', reason: 'two words', list: ['a'] }, { color: false });
    expect(line).toBe('14:03:07.218 WARN  control x  reason="two words" list=["a"]');
  });

  it("flattens an app's JSON object and leaves out what the columns already say", () => {
    const line = prettyRecord({ level: 30, time: at, service: 'web', msg: 'signed in', stream: 'stdout', app: { level: 30, time: 1, msg: 'signed in', user: 7 } }, { color: false });
    expect(line).toBe('14:03:07.218 INFO  web     signed in  stream=stdout app.user=7');
  });

  it('shows an error by its message, with the stack below at level error', () => {
    const rec = { level: 50, time: at, msg: 'baton failed to start', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x (y.js:1:1)' } };
    expect(prettyRecord(rec, { color: false })).toBe('14:03:07.218 ERROR baton   baton failed to start  err=boom\n    Error: boom\n    at x (y.js:1:1)');
  });

  it('colours the level on a terminal, and keeps a line that is not JSON as it is', () => {
    expect(prettyRecord({ level: 50, time: at, msg: 'm' }, { color: true })).toContain('\x1b[31mERROR\x1b[0m');
    expect(prettyLine('not json', { color: false })).toBe('not json\n');
  });

  it('keeps one record on one line even when an app wrote control characters', () => {
    expect(prettyRecord({ level: 30, time: at, msg: 'a\rb\x1b[2J' }, { color: false })).toBe('14:03:07.218 INFO  baton   a\\rb\\u001b[2J');
  });
});

describe('choosing the log format', () => {
  it('the flag wins, then BATON_LOG_FORMAT, then pretty on a terminal and JSON elsewhere', () => {
    expect(chooseLogFormat('json', 'pretty', true)).toBe('json');
    expect(chooseLogFormat(undefined, 'pretty', false)).toBe('pretty');
    expect(chooseLogFormat(undefined, undefined, true)).toBe('pretty');
    expect(chooseLogFormat(undefined, '', false)).toBe('json');
    expect(chooseLogFormat('xml', undefined, false)).toEqual({ error: '--log-format: expected json or pretty, got "xml"' });
  });

  it('a pretty logger writes formatted lines to its stream', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    createLogger({ level: 'info', format: 'pretty', out: sink, color: false }).child({ service: 'web' }).info({ n: 1 }, 'hello');
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}web {5}hello {2}n=1\n$/);
  });
});

describe("an app's output lines", () => {
  function capture(): { log: ReturnType<typeof createLogger>; records: () => Array<Record<string, unknown>> } {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    return { log: createLogger({ level: 'info', format: 'json', out: sink, color: false }), records: () => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  it('a JSON object line becomes the object app, with its message as the message', () => {
    const c = capture();
    logAppLine(c.log, 'stdout', '{"msg":"listening","port":3000}');
    expect(c.records()[0]).toMatchObject({ level: 30, msg: 'listening', stream: 'stdout', app: { msg: 'listening', port: 3000 } });
  });

  it('any other line is the message; stderr lines are warnings', () => {
    const c = capture();
    logAppLine(c.log, 'stderr', 'oops {"not": "whole"}');
    logAppLine(c.log, 'stdout', '[1, 2]');
    expect(c.records()).toMatchObject([
      { level: 40, msg: 'oops {"not": "whole"}', stream: 'stderr' },
      { level: 30, msg: '[1, 2]', stream: 'stdout' },
    ]);
    expect(c.records()[1]).not.toHaveProperty('app');
    expect(jsonObject('{"a":1} trailing')).toBeUndefined();
    expect(jsonObject('{broken}')).toBeUndefined();
  });
});
