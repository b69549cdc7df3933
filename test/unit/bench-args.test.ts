import { describe, expect, it } from 'vitest';
// @ts-expect-error: the benchmark is plain JavaScript, without type declarations
import { parseArgs } from '../../bench/lib/util.js';

describe('bench/run.js options', () => {
  it('takes --rounds and --pairs as whole numbers, in both spellings', () => {
    expect(parseArgs(['--rounds', '5', '--pairs=0'])).toMatchObject({ rounds: 5, pairs: 0 });
    expect(parseArgs(['--pairs', '6'])).toMatchObject({ rounds: undefined, pairs: 6 });
  });

  it('refuses a count that is not a whole number, naming the option and the value', () => {
    expect(() => parseArgs(['--pairs', 'four'])).toThrow('--pairs: expected a whole number of at least 0, got "four"');
    expect(() => parseArgs(['--pairs', '-1'])).toThrow('--pairs: expected a whole number of at least 0, got "-1"');
    expect(() => parseArgs(['--rounds', '0'])).toThrow('--rounds: expected a whole number of at least 1, got "0"');
    expect(() => parseArgs(['--rounds=2.5'])).toThrow('--rounds: expected a whole number of at least 1, got "2.5"');
    expect(() => parseArgs(['--pairs'])).toThrow('--pairs needs a value');
  });
});
