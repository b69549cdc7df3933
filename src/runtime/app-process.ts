import { spawn, type ChildProcess } from 'node:child_process';

/**
 * One app process Baton started, in a process group (and session) of its own: a Ctrl-C in the
 * terminal Baton runs in signals Baton's group only, so the apps keep serving while Baton
 * drains, and Baton alone decides when they stop. Signals go to the whole group, so an app
 * started through a wrapper (`npm start`, `sh -c`) stops with its children.
 *
 * The handle knows only the pid and whether the process has exited, so a later Baton could
 * hold the same handle for a process it did not spawn.
 */
export class AppProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  #exited = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.pid = child.pid!;
    child.once('exit', () => (this.#exited = true));
  }

  /** Spawns `command`; rejects with the spawn error (ENOENT, EACCES...) when it cannot run. */
  static spawn(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<AppProcess> {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return new Promise((resolve, reject) => {
      const childOnSpawn = (): void => {
        child.removeListener('error', childOnError);
        resolve(new AppProcess(child));
      };
      const childOnError = (err: Error): void => {
        child.removeListener('spawn', childOnSpawn);
        reject(err);
      };
      child.once('spawn', childOnSpawn);
      child.once('error', childOnError);
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  /**
   * Signal the process group, while its leader runs: once it has exited and been reaped, its
   * pid (and so the group id) may belong to someone else.
   */
  signal(signal: NodeJS.Signals): void {
    if (this.#exited) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: it exited a moment ago. EPERM cannot happen for a group Baton made.
    }
  }

  /** Synchronous SIGKILL of the group: the last resort in Baton's `exit` handler. */
  killSync(): void {
    this.signal('SIGKILL');
  }
}
