// Summarise a V8 .cpuprofile: self time by function (top N) and by source file.
// Usage: node bench/prof-summary.js FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/prof-summary.js FILE.cpuprofile [N]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map();
const files = new Map();
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  const url = cf.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/');
  const key = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const f = url === '' ? `(${cf.functionName})` : url;
  files.set(f, (files.get(f) ?? 0) + us);
}
const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5) + '%';
console.log(`total sampled ${(total / 1e6).toFixed(2)} s`);
console.log('\n-- self time by function');
for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 40))) console.log(pct(us), k);
// Inclusive time of the functions named in PROF_FUNCS (comma-separated), e.g. "#onRequest,web".
const wanted = (process.env.PROF_FUNCS ?? '').split(',').filter(Boolean);
if (wanted.length > 0) {
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map();
  for (const [id, us] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur).callFrame.functionName;
      if (wanted.includes(name) && !seen.has(name)) {
        seen.add(name);
        incl.set(name, (incl.get(name) ?? 0) + us);
      }
    }
  }
  console.log('\n-- inclusive time');
  for (const w of wanted) console.log(pct(incl.get(w) ?? 0), w);
}
console.log('\n-- self time by file');
for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(pct(us), k);
