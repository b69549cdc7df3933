/**
 * A command run once to its end (a migration), as a child process: its output logged line by
 * line and its last lines kept, killed at the timeout. The Docker runtime runs its one-off
 * commands in a container instead (docker-one-off.ts).
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { BatonError } from '../errors.js';
import { OutputTail } from './output.js';
import type { RunOnceResult } from './runtime.js';

export interface ProcessOnceOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  log: Logger;
}

/** How long a command killed at its timeout has to go after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 5000;

export function runProcessOnce(opts: ProcessOnceOptions): Promise<RunOnceResult> {
  const [cmd, ...args] = opts.argv;
  const began = performance.now();
  const tail = new OutputTail(opts.log, 20);
  return new Promise((resolve, reject) => {
    // Its own process group, as the apps: a terminal's Ctrl-C reaches Baton only, and a kill reaches its children.
    const child = spawn(cmd!, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(kill, opts.timeoutMs);
    const onAbort = (): void => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (c: Buffer) => tail.write('stdout', c));
    child.stderr!.on('data', (c: Buffer) => tail.write('stderr', c));
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new BatonError('START_FAILED', err.code === 'ENOENT' ? `command ${JSON.stringify(cmd)} not found (in ${opts.cwd})` : `could not run ${JSON.stringify(cmd)}: ${err.message}`, { cause: err, details: { command: opts.argv } }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      tail.flush();
      resolve({ exitCode: code, signal, timedOut, output: tail.lines(), ms: performance.now() - began });
    });
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone already.
  }
}
