/**
 * Property-based differential tests: Baton's HTTP/1 parsers against llhttp (compare.ts says what
 * agreeing means). Bounded for CI; `npm run fuzz` runs them longer (FUZZ_RUNS). fast-check prints
 * the seed and path of any counterexample; FUZZ_SEED replays one.
 */

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { compareRequest, compareResponse, type Outcome, type Splits, type Verdict } from './compare.js';
import { chunkedBodies, framingVariants, mutate, mutated, requestMethod, requests, responses, splits } from './generators.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const params = (runs: number): fc.Parameters<unknown> => ({ numRuns: runs, ...(SEED === undefined ? {} : { seed: SEED }) });

/** Runs a comparison, twice: all bytes at once and cut at `cuts`; both must agree with llhttp and with each other. */
function both(run: (s: Splits) => Verdict, cuts: Splits, bytes: Buffer): Verdict {
  let whole: Verdict;
  let cut: Verdict;
  try {
    whole = run([]);
    cut = run(cuts);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n  input: ${JSON.stringify(bytes.toString('latin1'))}\n  cuts: ${JSON.stringify(cuts)}`);
  }
  expect(cut.outcomes, `split feeding changed the outcome of ${JSON.stringify(bytes.toString('latin1'))}`).toEqual(whole.outcomes);
  return whole;
}

const seen = new Map<string, Map<Outcome, number>>();
function count(property: string, outcomes: readonly Outcome[]): void {
  const m = seen.get(property) ?? new Map<Outcome, number>();
  seen.set(property, m);
  const first = outcomes[0] ?? 'incomplete';
  m.set(first, (m.get(first) ?? 0) + 1);
}

describe('requests, against llhttp', () => {
  test('well-formed requests in Baton\'s subset are read as llhttp reads them', () => {
    fc.assert(
      fc.property(requests, splits, (g, cuts) => {
        const bytes = Buffer.from(g.text, 'latin1');
        const v = both((s) => compareRequest(bytes, s), cuts, bytes);
        count('requests', v.outcomes);
        if (g.served) expect(v.outcomes[0], `Baton did not serve ${JSON.stringify(g.text)}`).toBe('head');
      }),
      params(RUNS),
    );
  });

  test('mutated requests are read as llhttp reads them, or declined or rejected', () => {
    fc.assert(
      fc.property(mutated(requests), splits, (m, cuts) => {
        const bytes = Buffer.from(mutate(m), 'latin1');
        count('mutated requests', both((s) => compareRequest(bytes, s), cuts, bytes).outcomes);
      }),
      params(RUNS * 4),
    );
  });

  test('requests whose framing fields are written every which way are framed as llhttp frames them, or declined', () => {
    fc.assert(
      fc.property(framingVariants('request'), splits, (text, cuts) => {
        const bytes = Buffer.from(text, 'latin1');
        count('framing requests', both((s) => compareRequest(bytes, s), cuts, bytes).outcomes);
      }),
      params(RUNS * 2),
    );
  });

  test('mutated chunked request bodies decode as llhttp decodes them, or are refused', () => {
    fc.assert(
      fc.property(chunkedBodies, splits, (m, cuts) => {
        const text = 'POST /upload HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n' + mutate(m) + 'GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n';
        const bytes = Buffer.from(text, 'latin1');
        count('chunked requests', both((s) => compareRequest(bytes, s), cuts, bytes).outcomes.slice(1));
      }),
      params(RUNS * 2),
    );
  });
});

describe('responses, against llhttp', () => {
  test('well-formed responses are read as llhttp reads them', () => {
    fc.assert(
      fc.property(responses, requestMethod, splits, (g, method, cuts) => {
        const bytes = Buffer.from(g.text, 'latin1');
        const v = both((s) => compareResponse(bytes, method, s), cuts, bytes);
        count('responses', v.outcomes);
        if (g.served) expect(v.outcomes[0], `Baton refused ${JSON.stringify(g.text)}`).toBe('head');
      }),
      params(RUNS),
    );
  });

  test('mutated responses are read as llhttp reads them, or refused', () => {
    fc.assert(
      fc.property(mutated(responses), requestMethod, splits, (m, method, cuts) => {
        const bytes = Buffer.from(mutate(m), 'latin1');
        count('mutated responses', both((s) => compareResponse(bytes, method, s), cuts, bytes).outcomes);
      }),
      params(RUNS * 4),
    );
  });

  test('responses whose framing fields are written every which way are framed as llhttp frames them, or refused', () => {
    fc.assert(
      fc.property(framingVariants('response'), requestMethod, splits, (text, method, cuts) => {
        const bytes = Buffer.from(text, 'latin1');
        count('framing responses', both((s) => compareResponse(bytes, method, s), cuts, bytes).outcomes);
      }),
      params(RUNS * 2),
    );
  });

  test('mutated chunked response bodies decode as llhttp decodes them, or are refused', () => {
    fc.assert(
      fc.property(chunkedBodies, splits, (m, cuts) => {
        const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + mutate(m) + 'HTTP/1.1 204 No Content\r\n\r\n';
        const bytes = Buffer.from(text, 'latin1');
        count('chunked responses', both((s) => compareResponse(bytes, 'GET', s), cuts, bytes).outcomes.slice(1));
      }),
      params(RUNS * 2),
    );
  });

  test('every property saw Baton both read and refuse', () => {
    // A differential that only ever refuses proves nothing: make sure the runs exercised both sides.
    if (process.env.FUZZ_STATS !== undefined) console.log(JSON.stringify(Object.fromEntries([...seen].map(([k, v]) => [k, Object.fromEntries(v)])), null, 1));
    for (const name of ['mutated requests', 'mutated responses', 'chunked requests', 'chunked responses', 'framing requests', 'framing responses']) {
      const m = seen.get(name);
      expect(m?.get('head') ?? 0, `${name}: no input read`).toBeGreaterThan(0);
    }
  });
});
