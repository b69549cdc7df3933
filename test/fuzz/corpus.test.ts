/**
 * Replays the hostile-input corpus (test/corpus) through Baton's parsers and llhttp: every case
 * must agree as compare.ts says, fed at once and byte by byte, and llhttp must still say what the
 * corpus recorded for this llhttp version. `CORPUS_RECORD=1` records this version's verdicts
 * into the files instead (run it once per Node version after an upgrade, and read the diff).
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CORPUS_DIR, corpusText, loadCorpus, type CorpusCase, type LlhttpVerdict } from '../corpus/corpus.js';
import { compareRequest, compareResponse, type Outcome } from './compare.js';
import { LLHTTP_VERSION, llhttpParse, type LlResult } from './llhttp.js';

const RECORD = process.env.CORPUS_RECORD !== undefined;

function verdictOf(ll: LlResult): LlhttpVerdict {
  const v: LlhttpVerdict = { messages: ll.messages.filter((m) => m.end !== -1).length };
  if (ll.error !== undefined) {
    v.error = ll.error.code;
    v.at = ll.error.offset;
  }
  if (ll.pending) v.pending = true;
  return v;
}

/** Runs one case; returns what disagreed ('' when nothing) and Baton's first outcome. */
function replay(c: CorpusCase): { problem: string; outcome: Outcome | undefined; ll: LlResult } {
  const ll = c.kind === 'request' ? llhttpParse(c.bytes, 'request') : llhttpParse(c.bytes, 'response', c.method ?? 'GET');
  const run = (splits: [] | 'bytes'): Outcome[] =>
    c.kind === 'request' ? compareRequest(c.bytes, splits, ll).outcomes : compareResponse(c.bytes, c.method ?? 'GET', splits, ll).outcomes;
  try {
    const whole = run([]);
    const bytewise = run('bytes');
    if (JSON.stringify(whole) !== JSON.stringify(bytewise)) return { problem: `fed at once ${whole}, byte by byte ${bytewise}`, outcome: whole[0], ll };
    const recorded = c.llhttp?.[LLHTTP_VERSION];
    if (!RECORD && recorded !== undefined && JSON.stringify(recorded) !== JSON.stringify(verdictOf(ll))) {
      return { problem: `llhttp ${LLHTTP_VERSION} now says ${JSON.stringify(verdictOf(ll))}, recorded ${JSON.stringify(recorded)}`, outcome: whole[0], ll };
    }
    return { problem: '', outcome: whole[0], ll };
  } catch (e) {
    return { problem: (e as Error).message, outcome: undefined, ll };
  }
}

const files = loadCorpus();

describe('the hostile-input corpus, against llhttp', () => {
  for (const f of files) {
    test(`${f.file}: Baton and llhttp ${LLHTTP_VERSION} agree on all ${f.cases.length} cases`, () => {
      const problems: string[] = [];
      const tally: Record<string, number> = {};
      for (const c of f.cases) {
        const { problem, outcome, ll } = replay(c);
        if (problem !== '') problems.push(`${c.id} (${JSON.stringify(c.bytes.toString('latin1').slice(0, 120))}): ${problem}`);
        const key = `${c.kind} ${outcome ?? 'failed'}, llhttp ${ll.error === undefined ? 'took it' : 'refused it'}`;
        tally[key] = (tally[key] ?? 0) + 1;
        if (RECORD) c.llhttp = { ...c.llhttp, [LLHTTP_VERSION]: verdictOf(ll) };
      }
      if (RECORD) writeFileSync(join(CORPUS_DIR, f.file), corpusText(f));
      if (process.env.FUZZ_STATS !== undefined) console.log(f.file, tally);
      expect(problems).toEqual([]);
    });
  }

  test('every case has a unique id and a known kind', () => {
    const ids = new Set<string>();
    for (const f of files) {
      for (const c of f.cases) {
        expect(ids.has(c.id), c.id).toBe(false);
        ids.add(c.id);
        expect(['request', 'response']).toContain(c.kind);
      }
    }
    expect(ids.size).toBeGreaterThan(8000);
  });
});
