/**
 * nginx and HAProxy with the shared peer configurations (bench/peers/), ports filled in, pinned
 * to the system-under-test core. Each runs as a daemon; stop() ends it by the pid it wrote.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BENCH } from './baton.js';
import { pinned, SUT_CORE, track, stopPid, childrenOf, waitForPort, which, freePort } from './procs.js';
import { sleep } from './util.js';

const run = promisify(execFile);

async function template(name, dir, ports) {
  let text = await readFile(path.join(BENCH, 'peers', name), 'utf8');
  text = text.replaceAll('@DIR@', dir);
  for (const [k, v] of Object.entries(ports)) text = text.replaceAll(`@${k}@`, String(v));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

function readPid(file) {
  return Number(readFileSync(file, 'utf8').trim());
}

/**
 * The fields Baton sets on every forwarded request (X-Forwarded-For/-Proto/-Host, X-Request-Id,
 * and with its default `traceparent: generate` a new W3C traceparent) and the X-Request-Id it
 * answers with, as an nginx user would set them: with `forwarded`, nginx does the same work per
 * request as Baton (the shared configuration sets none of them). nginx has no trace ids of its
 * own: the traceparent is made of $request_id (32 hex digits, the trace id) and its first 16
 * (the parent id), through a map (FORWARDED_HTTP, in the http block).
 */
const FORWARDED = [
  'proxy_set_header Host $http_host;',
  'proxy_set_header X-Forwarded-For $remote_addr;',
  'proxy_set_header X-Forwarded-Proto $scheme;',
  'proxy_set_header X-Forwarded-Host $http_host;',
  'proxy_set_header X-Request-Id $request_id;',
  'proxy_set_header traceparent 00-$request_id-$traceparent_parent-01;',
  'add_header X-Request-Id $request_id always;',
].map((line) => `\n      ${line}`).join('');
const FORWARDED_HTTP = `\n  map $request_id $traceparent_parent { "~^(?<p>[0-9a-f]{16})" $p; }`;

/**
 * nginx 1 worker, upstream keep-alive; `ports`: UPSTREAM_PORT, WS_UPSTREAM_PORT. `tls`: the
 * bench certificate (lib/tls-cert.js): adds an HTTPS/HTTP/2 server (peers/nginx-tls.server.conf)
 * on `httpsPort`. `forwarded`: every location also sets the fields above.
 */
export async function startNginx(ports, { tls, forwarded = false } = {}) {
  const bin = which('nginx');
  if (bin === undefined) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-nginx-'));
  await mkdir(path.join(dir, 'run/nginx/logs'), { recursive: true });
  await mkdir(path.join(dir, 'run/nginx/tmp'), { recursive: true });
  const all = { HTTP_PORT: await freePort(), WS_PORT: await freePort(), ...ports };
  if (tls !== undefined) Object.assign(all, { HTTPS_PORT: await freePort(), TLS_CERT: tls.cert, TLS_KEY: tls.key });
  const conf = await template('nginx.conf', dir, all);
  if (tls !== undefined) {
    const server = await readFile(await template('nginx-tls.server.conf', dir, all), 'utf8');
    const text = await readFile(conf, 'utf8');
    const end = text.lastIndexOf('}'); // the http block's
    await writeFile(conf, `${text.slice(0, end)}${server}${text.slice(end)}`);
  }
  if (forwarded) await writeFile(conf, (await readFile(conf, 'utf8')).replace('http {', `http {${FORWARDED_HTTP}`).replaceAll('proxy_http_version 1.1;', `proxy_http_version 1.1;${FORWARDED}`));
  const prefix = path.join(dir, 'run/nginx');
  const p = pinned(SUT_CORE, bin, ['-c', conf, '-p', prefix]);
  await run(p.cmd, p.args);
  const pidFile = path.join(dir, 'run/nginx.pid');
  await waitForPort(all.HTTP_PORT);
  const master = readPid(pidFile);
  track(master);
  const errorLog = path.join(dir, 'run/nginx/logs/error.log');
  return {
    name: 'nginx',
    port: all.HTTP_PORT,
    httpsPort: all.HTTPS_PORT,
    wsPort: all.WS_PORT,
    /**
     * How many times nginx has spilled a request or response body to a temporary file so far
     * (its warn-level "... is buffered to a temporary file"): disk writes the other proxies
     * never make, so a run with any is not a like-for-like comparison.
     */
    bufferedToDisk() {
      try {
        return (readFileSync(errorLog, 'utf8').match(/buffered to a temporary file/g) ?? []).length;
      } catch {
        return 0;
      }
    },
    /** Master and workers (the workers change on reload). */
    pids: () => [master, ...childrenOf(master)],
    async reload() {
      const r = pinned(SUT_CORE, bin, ['-c', conf, '-p', prefix, '-s', 'reload']);
      await run(r.cmd, r.args);
    },
    async stop() {
      await stopPid(master, 'SIGQUIT', 10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * HAProxy 1 thread, http-reuse always; `ports`: UPSTREAM_PORT, WS_UPSTREAM_PORT. `tls`: the
 * bench certificate: adds an HTTPS/HTTP/2 frontend (peers/haproxy-tls.cfg) on `httpsPort`.
 */
export async function startHaproxy(ports, { tls } = {}) {
  const bin = which('haproxy');
  if (bin === undefined) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-haproxy-'));
  await mkdir(path.join(dir, 'run'), { recursive: true });
  const all = { HTTP_PORT: await freePort(), WS_PORT: await freePort(), ...ports };
  if (tls !== undefined) Object.assign(all, { HTTPS_PORT: await freePort(), TLS_PEM: tls.pem });
  const conf = await template('haproxy.cfg', dir, all);
  const confs = tls === undefined ? ['-f', conf] : ['-f', conf, '-f', await template('haproxy-tls.cfg', dir, all)];
  const pidFile = path.join(dir, 'run/haproxy.pid');
  const p = pinned(SUT_CORE, bin, [...confs, '-D', '-p', pidFile]);
  await run(p.cmd, p.args);
  await waitForPort(all.HTTP_PORT);
  // The pid file may lag the listening socket by a moment.
  let pid = NaN;
  for (let i = 0; i < 50 && !(pid > 0); i++) {
    try {
      pid = readPid(pidFile);
    } catch {
      await sleep(20);
    }
  }
  track(pid);
  return {
    name: 'haproxy',
    port: all.HTTP_PORT,
    httpsPort: all.HTTPS_PORT,
    wsPort: all.WS_PORT,
    pids: () => [pid],
    async stop() {
      await stopPid(pid, 'SIGTERM', 10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
