/**
 * Starting the configurations of scenario 1 (configs.js), each pinned to the system-under-test
 * core beside the shared upstream. Every start resolves to a target:
 *   { id, label, ports: { http, https? }, pids() (the proxy's processes, for CPU and syscalls),
 *     appPids?() (the app processes it runs itself: Baton's; others use the shared upstream),
 *     bufferedToDisk?(), stop() }
 * nginx, HAProxy and Baton (`tls: true` in configs.js) also listen for HTTPS and HTTP/2 on
 * `ports.https`, all with the same certificate (lib/tls-cert.js), for the TLS workloads.
 */
import path from 'node:path';
import { BENCH, startBaton } from '../../lib/baton.js';
import { nodeOfMajor } from '../../lib/nodes.js';
import { startHaproxy, startNginx } from '../../lib/peers.js';
import { freePort, spawnPinned, stopPid, SUT_CORE, waitForPort } from '../../lib/procs.js';
import { batonTlsYaml, benchCertificate } from '../../lib/tls-cert.js';

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
      const tls = config.tls === true ? benchCertificate() : undefined;
      const peer = await (config.kind === 'nginx' ? startNginx : startHaproxy)({ UPSTREAM_PORT: upstream.port, WS_UPSTREAM_PORT: await freePort() }, { tls, forwarded: config.forwarded === true });
      if (peer === undefined) return { why: `${config.kind} is not installed` };
      const ports = peer.httpsPort === undefined ? { http: peer.port } : { http: peer.port, https: peer.httpsPort };
      return { id: config.id, label: config.label, ports, pids: peer.pids, bufferedToDisk: peer.bufferedToDisk, stop: () => peer.stop() };
    }
    case 'baton': {
      const node = config.node === undefined ? nodes.bench : nodeOfMajor(config.node, nodes.batonNode);
      if (node === undefined) return { why: `no Node ${config.node} here (--baton-node PATH names one)` };
      const httpsPort = config.tls === true ? await freePort() : undefined;
      const top = [config.top, httpsPort === undefined ? undefined : batonTlsYaml(httpsPort)].filter((t) => t !== undefined).join('\n');
      const b = await startBaton({ node: node.bin, nodeArgs: config.nodeArgs, metrics: config.metrics !== false, top, service: config.service, command: [nodes.bench.bin, UPSTREAM] });
      if (httpsPort !== undefined) await waitForPort(httpsPort);
      const ports = httpsPort === undefined ? { http: b.port } : { http: b.port, https: httpsPort };
      return { id: config.id, label: label(node), node: node.version, ports, pids: () => [b.pid], appPids: () => b.apps(), stop: () => b.stop() };
    }
    case 'proxy': {
      // A TLS script gets HTTPS_PORT, CERT and KEY too; the TLS workloads load that port, and
      // its `workloads` say which ones apply (tls-min is loaded on its TLS port only).
      const port = await freePort();
      const httpsPort = config.tls === true ? await freePort() : undefined;
      const tls = httpsPort === undefined ? {} : { HTTPS_PORT: String(httpsPort), CERT: benchCertificate().cert, KEY: benchCertificate().key };
      const child = spawnPinned(SUT_CORE, nodes.bench.bin, [path.join(BENCH, 'proxies', config.script)], {
        env: { ...process.env, PORT: String(port), UPSTREAM_PORT: String(upstream.port), ...tls, ...(config.forwarded === true ? { FORWARDED: '1' } : {}) },
      });
      const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${config.script} exited with ${code}:\n${child.output()}`))));
      exited.catch(() => {}); // once started, an exit is stop()'s doing
      await Promise.race([waitForPort(httpsPort ?? port), exited]);
      const ports = httpsPort === undefined ? { http: port } : { http: port, https: httpsPort };
      return { id: config.id, label: config.label, node: nodes.bench.version, ports, pids: () => [child.pid], stop: () => stopPid(child.pid) };
    }
    default:
      throw new Error(`configuration ${config.id}: unknown kind ${config.kind}`);
  }
}
