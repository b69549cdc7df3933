import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ExitInfo } from './runtime.js';

/** How often an adopted process (not Baton's child: no exit event) is looked at. */
const POLL_MS = 250;

/**
 * One app process, in a process group (and session) of its own: a Ctrl-C in the terminal
 * Baton runs in signals Baton's group only, so the apps keep serving while Baton drains, and
 * Baton alone decides when they stop. Signals go to the whole group, so an app started through
 * a wrapper (`npm start`, `sh -c`) stops with its children.
 *
 * Apps outlive the Baton that started them when it hands over to a new one (`baton upgrade`)
 * or crashes, so a process is known by its pid and its start time (/proc/PID/stat): never a
 * recycled pid. A Baton that did not spawn it `adopt`s it and watches it by polling.
 */
export class AppProcess {
  readonly pid: number;
  /** The kernel's start time of the process (clock ticks since boot): with the pid, its identity. */
  readonly startTime: string;
  readonly exited: Promise<ExitInfo>;
  #exit: ExitInfo | undefined;
  #settle!: (e: ExitInfo) => void;
  #poll: NodeJS.Timeout | undefined;

  private constructor(pid: number, startTime: string) {
    this.pid = pid;
    this.startTime = startTime;
    this.exited = new Promise((resolve) => (this.#settle = resolve));
  }

  /**
   * Spawns `command` with its output to `out` and `err` (file descriptors: files that outlive
   * Baton, unlike pipes); rejects with the spawn error (ENOENT, EACCES...) when it cannot run.
   */
  static spawn(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; out: number; err: number }): Promise<AppProcess> {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', opts.out, opts.err], detached: true });
    return new Promise((resolve, reject) => {
      const childOnSpawn = (): void => {
        child.removeListener('error', childOnError);
        const pid = child.pid!;
        const app = new AppProcess(pid, startTimeOf(pid) ?? '');
        app.#follow(child);
        resolve(app);
      };
      const childOnError = (err: Error): void => {
        child.removeListener('spawn', childOnSpawn);
        reject(err);
      };
      child.once('spawn', childOnSpawn);
      child.once('error', childOnError);
    });
  }

  /** The process `pid` if it still runs and started at `startTime`; else undefined (it is gone, or the pid was reused). */
  static adopt(pid: number, startTime: string): AppProcess | undefined {
    if (startTimeOf(pid) !== startTime) return undefined;
    const app = new AppProcess(pid, startTime);
    app.#poll = setInterval(() => {
      if (startTimeOf(pid) !== startTime) app.#exited({ code: null, signal: null });
    }, POLL_MS);
    app.#poll.unref();
    return app;
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  /**
   * Signal the process group, while its leader runs: once it has exited (and been reaped), its
   * pid, and so the group id, may belong to someone else.
   */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit !== undefined || startTimeOf(this.pid) !== this.startTime) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: it exited a moment ago.
    }
  }

  /** Synchronous SIGKILL of the group: the last resort in Baton's `exit` handler. */
  killSync(): void {
    this.signal('SIGKILL');
  }

  /** Stop watching (Baton hands the process over): no exit will be reported from here. */
  release(): void {
    clearInterval(this.#poll);
  }

  #follow(child: ChildProcess): void {
    // Baton may exit before its app (an upgrade): the child must not keep it alive.
    child.unref();
    child.once('exit', (code, signal) => this.#exited({ code, signal }));
  }

  #exited(e: ExitInfo): void {
    if (this.#exit !== undefined) return;
    clearInterval(this.#poll);
    this.#exit = e;
    this.#settle(e);
  }
}

/**
 * Field 22 of /proc/PID/stat (the start time), or undefined when the process is gone or a
 * zombie. The command name (field 2) may hold spaces and parentheses: fields are counted from
 * the last ')'.
 */
export function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (the state), fields[19] field 22.
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}
