/**
 * The end-to-end replay: hostile requests and responses through a running Baton, each judged
 * against llhttp (request-rule.ts, response-rule.ts). Request cases are sent by raw clients,
 * each from its own loopback address, to Baton, whose app is the raw logging upstream
 * (upstream.ts, through relay.js); response cases are what that upstream answers a client's
 * request with. Cases run `width` at a time; requests are judged once all have run (a late
 * forwarded request still finds its case by its X-Forwarded-For).
 */

import { bounded, send, type Reply } from './client.js';
import { judgeRequest, planRequest, type RequestPlan } from './request-rule.js';
import { judgeResponse, planResponse, type ResponsePlan } from './response-rule.js';
import type { Forwarded, RawUpstream } from './upstream.js';
import { brief, values } from './fields.js';
import type { LlMessage } from '../fuzz/llhttp.js';

export interface ReplayCase {
  id: string;
  kind: 'request' | 'response';
  bytes: Buffer;
  /** Responses: the method of the request they answer. */
  method?: string;
}

/** A refusal of Baton's beyond llhttp's that the test knows the reason for. */
export interface RefusalRule {
  /** What it is, for the report. */
  why: string;
  /**
   * Whether this rule explains Baton's answer (`refusal`: status and first body line, or its log
   * line for a response) to `message` (the request before it: `before`), read from `bytes`.
   */
  explains(refusal: string, message: LlMessage | undefined, bytes: Buffer, before?: LlMessage): boolean;
}

export interface ReplayOptions {
  batonPort: number;
  upstream: RawUpstream;
  /** Host Baton sends upstream for a request without one. */
  fallbackAuthority: string;
  /** Cases in flight at once. */
  width: number;
  /** Baton's log so far (to find why it refused an answer llhttp accepts). */
  log(): string;
  requestRules: readonly RefusalRule[];
  responseRules: readonly RefusalRule[];
  /** The first loopback block of client addresses (127.<block>.x.y); each run needs its own. */
  block: number;
}

export interface ReplayReport {
  requests: number;
  responses: number;
  ms: number;
  problems: string[];
  /** Outcome -> cases. */
  tally: Record<string, number>;
  /** Refusals beyond llhttp's, by rule (or "unexplained"), with a few case ids. */
  refusals: Record<string, { count: number; examples: string[] }>;
  /** The bytes (latin1) of each case with a difference, by id: to make a corpus case of it. */
  failed: Record<string, string>;
}

const TIMEOUT_MS = 5000;
const QUIET_MS = 300;
/** After the last case: time for anything still on its way upstream to arrive. */
const SETTLE_MS = 300;

const PER_BLOCK = 250 * 250;

/** 127.<block>.<1..250>.<1..250>, moving to the next block every 62,500 cases. */
function addressOf(n: number, block: number): string {
  const m = n % PER_BLOCK;
  return `127.${block + Math.floor(n / PER_BLOCK)}.${Math.floor(m / 250) + 1}.${(m % 250) + 1}`;
}

interface RequestRun {
  c: ReplayCase;
  plan: RequestPlan;
  address: string;
  reply?: Reply;
}

interface ResponseRun {
  c: ReplayCase;
  plan: ResponsePlan;
  address: string;
  reply?: Reply;
}

/** Runs `cases` through Baton and judges each; the report says what differed. */
export async function replay(cases: readonly ReplayCase[], opts: ReplayOptions): Promise<ReplayReport> {
  const started = performance.now();
  const mark = opts.upstream.mark();
  const report: ReplayReport = { requests: 0, responses: 0, ms: 0, problems: [], tally: {}, refusals: {}, failed: {} };

  const requests: RequestRun[] = cases.filter((c) => c.kind === 'request').map((c, i) => ({ c, plan: planRequest(c.bytes), address: addressOf(i, opts.block) }));
  const responseBlock = opts.block + 1 + Math.floor(requests.length / PER_BLOCK);
  const responses: ResponseRun[] = cases
    .filter((c) => c.kind === 'response')
    .map((c, n) => ({ c, plan: planResponse(c.bytes, c.method ?? 'GET', n), address: addressOf(n, responseBlock) }));
  report.requests = requests.length;
  report.responses = responses.length;

  await bounded(requests, opts.width, async (r) => {
    r.reply = await send(opts.batonPort, r.address, r.plan.sent, r.plan.mayWait ? { quietMs: QUIET_MS, timeoutMs: TIMEOUT_MS } : { timeoutMs: TIMEOUT_MS });
  });
  // The upstream answers `/__replay/response/<n>` with the n-th case's bytes.
  opts.upstream.serve((n) => {
    const r = responses[n];
    return r === undefined ? undefined : { bytes: r.c.bytes, keepOpen: r.plan.keepOpen };
  });
  await bounded(responses, opts.width, async (r) => {
    r.reply = await send(opts.batonPort, r.address, r.plan.sent, { timeoutMs: TIMEOUT_MS });
  });
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

  const byAddress = traceForwarded(opts.upstream, mark, report);
  judgeRequests(requests, byAddress, opts, report);
  judgeResponses(responses, opts, report);
  for (const r of responses) byAddress.delete(r.address);
  for (const [address, list] of byAddress) report.problems.push(`requests from ${address}, which sent none: ${list.map((f) => brief(f.message.url ?? '')).join(', ')}`);
  report.ms = performance.now() - started;
  return report;
}

/** Every request that reached the app since `mark`, by the X-Forwarded-For Baton gave it; what no case explains goes to the report. */
function traceForwarded(upstream: RawUpstream, mark: number, report: ReplayReport): Map<string, Forwarded[]> {
  const byAddress = new Map<string, Forwarded[]>();
  for (const f of upstream.all(mark)) {
    const xff = values(f.message.headers, 'x-forwarded-for');
    if (xff.length === 1) {
      const list = byAddress.get(xff[0]!) ?? [];
      list.push(f);
      byAddress.set(xff[0]!, list);
    } else if (!isHealthProbe(f)) {
      report.problems.push(`the app read a request Baton did not write (no X-Forwarded-For of its own), on upstream connection ${f.conn.id}: ${brief(f.conn.bytes.subarray(Math.max(0, f.message.headEnd - 300), f.message.headEnd))}`);
    }
  }
  for (const conn of upstream.refused(mark)) {
    const error = conn.error!;
    const before = conn.requests.filter((f) => f.message.end !== -1 && f.message.end <= error.offset).at(-1);
    const who = before === undefined ? 'nobody' : (values(before.message.headers, 'x-forwarded-for')[0] ?? '?');
    report.problems.push(`upstream connection ${conn.id}: llhttp refuses what Baton forwarded (${error.code} at ${error.offset}, after the request of ${who}): ${brief(conn.bytes.subarray(Math.max(0, error.offset - 500), error.offset + 200), 1000)}`);
  }
  return byAddress;
}

function count(report: ReplayReport, key: string): void {
  report.tally[key] = (report.tally[key] ?? 0) + 1;
}

/** A refusal beyond llhttp's: tallied under the rule that explains it, or a difference when none does. */
function refusedMore(report: ReplayReport, c: ReplayCase, rule: RefusalRule | undefined, how: string, what: string): void {
  const key = rule?.why ?? `unexplained: ${how}`;
  const r = (report.refusals[key] ??= { count: 0, examples: [] });
  r.count++;
  if (r.examples.length < 5) r.examples.push(c.id);
  if (rule === undefined) differs(report, c, [`Baton refused ${what} llhttp reads (${how}), for no reason written down`]);
}

function differs(report: ReplayReport, c: ReplayCase, problems: readonly string[]): void {
  if (problems.length === 0) return;
  for (const problem of problems) report.problems.push(`${c.id} ${brief(c.bytes)}: ${problem}`);
  report.failed[c.id] = c.bytes.toString('latin1');
}

function judgeRequests(runs: readonly RequestRun[], byAddress: Map<string, Forwarded[]>, opts: ReplayOptions, report: ReplayReport): void {
  for (const r of runs) {
    const forwarded = byAddress.get(r.address) ?? [];
    byAddress.delete(r.address);
    const v = judgeRequest(r.plan, forwarded, r.reply!, { address: r.address, fallbackAuthority: opts.fallbackAuthority });
    count(report, `request ${v.outcome}`);
    differs(report, r.c, v.problems);
    if (v.outcome !== 'refused-more') continue;
    const rule = opts.requestRules.find((rule) => rule.explains(v.refusal!, v.refused, r.plan.sent, v.before));
    refusedMore(report, r.c, rule, v.refusal!, 'a request');
  }
}

function judgeResponses(runs: readonly ResponseRun[], opts: ReplayOptions, report: ReplayReport): void {
  const log = opts.log();
  for (const [n, r] of runs.entries()) {
    const v = judgeResponse(r.plan, n, r.reply!);
    count(report, `response ${v.outcome}${r.plan.lenient ? ' (one Content-Length repeated)' : ''}`);
    differs(report, r.c, v.problems);
    if (v.outcome !== 'refused-more' && v.outcome !== 'cut-more') continue;
    const why = v.outcome === 'cut-more' ? 'cut' : reasonInLog(log, v.requestId);
    const answer = r.plan.oracle.messages.find((m) => m.status === undefined || m.status >= 200);
    refusedMore(report, r.c, opts.responseRules.find((rule) => rule.explains(why, answer, r.c.bytes)), why, 'an answer');
  }
}

function isHealthProbe(f: Forwarded): boolean {
  return values(f.message.headers, 'user-agent')[0] === 'baton-health' && f.message.method === 'GET';
}

/** The `err` of Baton's log line about the request `id` (its 502 carries the id). */
function reasonInLog(log: string, id: string | undefined): string {
  if (id === undefined) return 'no request id';
  const at = log.indexOf(`"request_id":"${id}"`);
  if (at === -1) return 'not in the log';
  const line = log.slice(log.lastIndexOf('\n', at) + 1, log.indexOf('\n', at));
  try {
    const entry = JSON.parse(line) as { err?: string; kind?: string };
    return `${entry.kind ?? ''}: ${entry.err ?? ''}`;
  } catch {
    return line;
  }
}
