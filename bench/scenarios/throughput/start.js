/**
 * Starting the configurations of scenario 1 (configs.js), each pinned to the system-under-test
 * core beside the shared upstream. Every start resolves to a target:
 *   { id, label, ports: { http }, pids() (the proxy's processes, for CPU and syscalls),
 *     bufferedToDisk?(), stop() }
 */
import path from 'node:path';
import { BENCH, startBaton } from '../../lib/baton.js';
import { nodeOfMajor } from '../../lib/nodes.js';
import { startHaproxy, startNginx } from '../../lib/peers.js';
import { freePort, spawnPinned, stopPid, SUT_CORE, waitForPort } from '../../lib/procs.js';

export const UPSTREAM = path.join(BENCH, 'apps/upstream.cjs');

/** The shared upstream, on the bench Node. */
export async function startUpstream(node) {
  const port = await freePort();
  const child = spawnPinned(SUT_CORE, node.bin, [UPSTREAM], { env: { ...process.env, PORT: String(port) } });
  await waitForPort(port);
  return { port, pid: child.pid, stop: () => stopPid(child.pid) };
}

/**
 * Start `config` in front of `upstream`. `nodes`: { bench, batonNode } (the --baton-node path).
 * Resolves to undefined, with `why`, when the configuration cannot run here.
 */
export async function startConfig(config, { upstream, nodes }) {
  const label = (node) => config.label.replace('{node}', String(node.major));
  switch (config.kind) {
    case 'direct':
      return { id: config.id, label: config.label, ports: { http: upstream.port }, pids: () => [upstream.pid], stop: async () => {} };
    case 'nginx':
    case 'haproxy': {
      const peer = await (config.kind === 'nginx' ? startNginx : startHaproxy)({ UPSTREAM_PORT: upstream.port, WS_UPSTREAM_PORT: await freePort() });
      if (peer === undefined) return { why: `${config.kind} is not installed` };
      return { id: config.id, label: config.label, ports: { http: peer.port }, pids: peer.pids, bufferedToDisk: peer.bufferedToDisk, stop: () => peer.stop() };
    }
    case 'baton': {
      const node = config.node === undefined ? nodes.bench : nodeOfMajor(config.node, nodes.batonNode);
      if (node === undefined) return { why: `no Node ${config.node} here (--baton-node PATH names one)` };
      const b = await startBaton({ node: node.bin, metrics: config.metrics !== false, top: config.top, service: config.service, command: [nodes.bench.bin, UPSTREAM] });
      return { id: config.id, label: label(node), node: node.version, ports: { http: b.port }, pids: () => [b.pid], stop: () => b.stop() };
    }
    case 'proxy': {
      const port = await freePort();
      const child = spawnPinned(SUT_CORE, nodes.bench.bin, [path.join(BENCH, 'proxies', config.script)], {
        env: { ...process.env, PORT: String(port), UPSTREAM_PORT: String(upstream.port) },
      });
      const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${config.script} exited with ${code}:\n${child.output()}`))));
      exited.catch(() => {}); // once started, an exit is stop()'s doing
      await Promise.race([waitForPort(port), exited]);
      return { id: config.id, label: config.label, node: nodes.bench.version, ports: { http: port }, pids: () => [child.pid], stop: () => stopPid(child.pid) };
    }
    default:
      throw new Error(`configuration ${config.id}: unknown kind ${config.kind}`);
  }
}
