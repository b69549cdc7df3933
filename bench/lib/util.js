/** Small helpers shared by the benchmark: arguments, statistics, formatting. */

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wall-clock milliseconds with sub-ms precision, comparable across processes. */
export const now = () => performance.timeOrigin + performance.now();

export function parseArgs(argv) {
  const opts = { quick: false, scenarios: new Set([1, 2, 3, 4]), rounds: undefined, pairs: undefined, duration: undefined, warmup: undefined, out: undefined, configs: undefined, workloads: undefined, node: undefined, batonNode: undefined, syscalls: 'auto', table: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const eq = a.indexOf('=');
      if (eq !== -1) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const name = a.split('=')[0];
    if (name === '--quick') opts.quick = true;
    else if (name === '--scenarios') opts.scenarios = new Set(value().split(',').map(Number));
    else if (name === '--rounds') opts.rounds = wholeNumber(name, value(), 1);
    else if (name === '--pairs') opts.pairs = wholeNumber(name, value(), 0);
    else if (name === '--duration') opts.duration = parseDuration(value());
    else if (name === '--warmup') opts.warmup = parseDuration(value());
    else if (name === '--out') opts.out = value();
    else if (name === '--configs') opts.configs = value().split(',');
    else if (name === '--workloads') opts.workloads = value().split(',');
    else if (name === '--node') opts.node = value();
    else if (name === '--baton-node') opts.batonNode = value();
    else if (name === '--syscalls') {
      opts.syscalls = value();
      if (!['auto', 'perf', 'strace', 'off'].includes(opts.syscalls)) throw new Error(`--syscalls: expected auto, perf, strace or off, got ${opts.syscalls}`);
    }
    else if (name === '--help' || name === '-h') opts.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

/** The value of option `name` as a whole number of at least `least`, or an error naming both. */
function wholeNumber(name, text, least) {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= least)) throw new Error(`${name}: expected a whole number of at least ${least}, got ${JSON.stringify(text)}`);
  return n;
}

/** `250ms`, `5s`, `5m`, or a bare number of seconds. */
export function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (m === null) throw new Error(`bad duration ${text}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's'];
}

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Spread of a set of rounds: min, max, and (max - min) / median in percent. */
export function spread(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return { min: NaN, max: NaN, pct: NaN };
  const min = Math.min(...v);
  const max = Math.max(...v);
  const med = median(v);
  return { min, max, pct: med === 0 ? 0 : ((max - min) / med) * 100 };
}

/** Percentile (0-100) of an ascending sorted numeric array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function fmtNum(x, digits = 0) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '-';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function fmtMs(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '-';
  if (x < 1) return `${x.toFixed(3)} ms`;
  if (x < 10) return `${x.toFixed(2)} ms`;
  if (x < 100) return `${x.toFixed(1)} ms`;
  return `${x.toFixed(0)} ms`;
}

export function fmtPct(x) {
  return typeof x === 'number' && Number.isFinite(x) ? `±${(x / 2).toFixed(0)}%` : '-';
}

/** A markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}
