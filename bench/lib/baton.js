/**
 * A Baton under test: the real CLI (`node dist/cli.js start -c FILE`, built by `npm run bench`)
 * on a generated config in a temporary folder, pinned to the system-under-test core with its
 * app processes. No `--forwarder`: Baton runs its one transport (before issue 10, the default).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPinned, stopPid, SUT_CORE, childrenOf } from './procs.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH = path.join(ROOT, 'bench');
const CLI = path.join(ROOT, 'dist/cli.js');
/** Runs the CLI with the metrics observer removed, to measure what metrics cost. */
const CLI_NO_METRICS = path.join(BENCH, 'lib/cli-no-metrics.js');

let control;
/** The control API client of the build under test. */
export async function controlRequest(socket, method, route, body, onEvent) {
  control ??= (await import(path.join(ROOT, 'dist/cli/client.js'))).request;
  return control(socket, method, route, body, onEvent);
}

/**
 * Start Baton with one service `web` running `command` (a process runtime app).
 * `service` adds YAML under the service; `top` adds YAML at the top level. `node` is the Node
 * binary Baton runs on (default: this process's); `metrics: false` runs it with the metrics
 * observer taken off the request path. `nodeArgs` go to Node before the CLI (e.g. `--trace-gc`);
 * `onOutput` sees every chunk Baton writes.
 */
export async function startBaton({ node = process.execPath, nodeArgs = [], onOutput, metrics = true, command, service = '', top = '', readyTimeoutMs = 30_000 }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'baton-bench-'));
  const yaml = [
    'listen: 127.0.0.1:0',
    'control:',
    `  socket: ${path.join(dir, 'baton.sock')}`,
    `state_file: ${path.join(dir, 'state.json')}`,
    top,
    'services:',
    '  web:',
    '    hosts: ["*"]',
    '    version: v1',
    '    process:',
    `      command: ${JSON.stringify(command)}`,
    '    health:',
    '      path: /healthz',
    '      interval: 10ms',
    '      deadline: 20s',
    service.replace(/^/gm, '    '),
  ]
    .filter((l) => l.trim() !== '')
    .join('\n');
  const configFile = path.join(dir, 'baton.yaml');
  await writeFile(configFile, yaml + '\n');
  const child = spawnPinned(SUT_CORE, node, [...nodeArgs, metrics ? CLI : CLI_NO_METRICS, 'start', '-c', configFile], {
    env: { ...process.env, BATON_LOG_LEVEL: 'warn' },
  });
  if (onOutput !== undefined) {
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
  }
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`baton did not start:\n${child.output()}`)), readyTimeoutMs);
    const onData = () => {
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(child.output());
      if (m !== null) {
        clearTimeout(timer);
        child.stderr.removeListener('data', onData);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`baton exited with ${code}:\n${child.output()}`));
    });
  });
  let port;
  try {
    port = await ready;
  } catch (err) {
    await stopPid(child.pid, 'SIGTERM', 5000);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    pid: child.pid,
    port,
    dir,
    socket: path.join(dir, 'baton.sock'),
    /** The app processes Baton runs now. */
    apps: () => childrenOf(child.pid),
    control: (method, route, body, onEvent) => controlRequest(path.join(dir, 'baton.sock'), method, route, body, onEvent),
    output: () => child.output(),
    async stop() {
      await stopPid(child.pid, 'SIGTERM', 20_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
