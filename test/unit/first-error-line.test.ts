import { describe, expect, it } from 'vitest';
import { firstErrorLine } from '../../src/swap/start.js';

/** The reason given for a version that died during its health check (issue 15, point 9). */
describe('firstErrorLine', () => {
  it('skips the source line Node echoes above its ^ marker', () => {
    const output = [
      'file:///srv/app/server.js:3',
      "  throw new Error('database url missing');",
      '  ^',
      '',
      'Error: database url missing',
      '    at file:///srv/app/server.js:3:9',
      'Node.js v20.20.2',
    ];
    expect(firstErrorLine(output)).toBe(': Error: database url missing');
  });

  it('falls back to the last line when none reads like an error', () => {
    expect(firstErrorLine(['listening', 'bye'])).toBe(': bye');
    expect(firstErrorLine([])).toBe('');
  });
});
