/**
 * Runs the real `baton` CLI (dist/cli.js) as a child process against a config written to a
 * fresh temporary folder, on a free loopback port. Everything started is stopped by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/cli.js');
export const FIXTURE_APP = path.join(ROOT, 'test/fixtures/app.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningBaton {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  socket: string;
  dir: string;
  configFile: string;
  proc: ChildProcess;
  /** Everything Baton wrote to stdout/stderr so far. */
  output(): string;
  cli(...args: string[]): Promise<CliResult>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

export interface ServiceYaml {
  version?: string;
  /** Extra YAML lines under the service (indented by the helper). */
  extra?: string;
  /** Replaces the default health block (interval 50ms, deadline 10s). */
  health?: string;
  command?: string[];
  hosts?: string[];
  /** process.env of the service. */
  env?: Record<string, string>;
}

/** A config for services running the fixture app; `extra` per service is appended verbatim. */
export function configYaml(services: Record<string, ServiceYaml>, top = ''): string {
  let y = `listen: 127.0.0.1:0\ncontrol:\n  socket: ./baton.sock\n${top}services:\n`;
  for (const [name, s] of Object.entries(services)) {
    y += `  ${name}:\n    hosts: ${JSON.stringify(s.hosts ?? ['*'])}\n    version: ${s.version ?? 'v1'}\n    process:\n      command: ${JSON.stringify(s.command ?? ['node', FIXTURE_APP])}\n`;
    if (s.env !== undefined) y += `      env: ${JSON.stringify(s.env)}\n`;
    y += `    health:\n` + (s.health ?? 'interval: 50ms\ndeadline: 10s').replace(/^/gm, '      ') + '\n';
    if (s.extra !== undefined) y += s.extra.replace(/^/gm, '    ') + '\n';
  }
  return y;
}

/**
 * `node file ...args` on this test's Node, its output collected. Past `timeoutMs` the child gets
 * `signal` and the promise rejects with `what` and the output so far.
 */
export function runNode(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; signal: NodeJS.Signals; what: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill(opts.signal);
      reject(new Error(`${opts.what} did not exit within ${opts.timeoutMs}ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run the CLI once (not `start`) and collect its output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  return runNode(CLI, args, { env, timeoutMs, signal: 'SIGKILL', what: `baton ${args.join(' ')}` });
}

/** Start Baton on `yaml` (or in `dir` when given, to restart on the same state). */
export async function startBaton(yaml: string, opts: { dir?: string; args?: string[]; readyTimeoutMs?: number; cli?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunningBaton> {
  const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'baton-test-')));
  const configFile = path.join(dir, 'baton.yaml');
  await writeFile(configFile, yaml);
  const proc = spawn(process.execPath, [opts.cli ?? CLI, 'start', '-c', configFile, ...(opts.args ?? [])], {
    env: { ...process.env, BATON_LOG_LEVEL: process.env.BATON_LOG_LEVEL ?? 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`baton did not start within ${opts.readyTimeoutMs ?? 20_000}ms:\n${out}`)), opts.readyTimeoutMs ?? 20_000);
    const onData = (): void => {
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`baton exited with ${code} before serving:\n${out}`));
    });
  });
  const socket = path.join(dir, 'baton.sock');
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    socket,
    dir,
    configFile,
    proc,
    output: () => out,
    cli: (...args) => runCli([...args, '--socket', socket]),
    stop: () => stopProcess(proc),
  };
}

export function stopProcess(proc: ChildProcess, timeoutMs = 40_000): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    proc.kill('SIGTERM');
  });
}

/** Stop a Baton a test started (if any) and remove its folder. */
export async function dispose(baton: RunningBaton | undefined): Promise<void> {
  if (baton === undefined) return;
  await baton.stop();
  await removeDir(baton.dir);
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Parse the NDJSON events printed by `deploy --json`. */
export function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Baton's /metrics text, from its control socket. */
export function metricsText(b: RunningBaton): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: b.socket, path: '/metrics' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}
