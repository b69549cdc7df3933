import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/types.js';
import { BatonError } from '../errors.js';
import type { ExitInfo, Instance, LogsOptions, OutputLine, RunOnceOptions, RunOnceResult, Runtime, StartOptions } from './runtime.js';
import { runProcessOnce } from './one-off.js';
import { OutputTail } from './output.js';
import { AppProcess } from './app-process.js';

/**
 * Runs each version as a child process on a free loopback port: the embedded default, no
 * Docker needed. `{version}` is replaced in the command and in `cwd`, so a version can be a
 * folder, a git worktree or a binary of its own. Baton stops what it started when it exits.
 */
export class ProcessRuntime implements Runtime {
  readonly kind = 'process' as const;
  #service: ServiceConfig;
  readonly #log: Logger;
  readonly #pickPort: () => Promise<number>;
  readonly #env: NodeJS.ProcessEnv;
  readonly #running = new Set<AppProcess>();

  /** `env` is the environment apps inherit (Baton's own, read once in cli.ts). */
  constructor(opts: { service: ServiceConfig; log: Logger; pickPort: () => Promise<number>; env: NodeJS.ProcessEnv }) {
    this.#service = opts.service;
    this.#log = opts.log;
    this.#pickPort = opts.pickPort;
    this.#env = opts.env;
  }

  reconfigure(service: ServiceConfig): void {
    this.#service = service;
  }

  /** A migration (or any command run once) with this version's command environment. */
  runOnce({ version, command, timeoutMs, signal }: RunOnceOptions): Promise<RunOnceResult> {
    const fill = (part: string): string => part.replaceAll('{version}', version);
    const env = { ...this.#env, ...this.#service.process.env, BATON_VERSION: version, BATON_SERVICE: this.#service.name };
    const log = this.#log.child({ version, one_off: 'migrate' });
    return runProcessOnce({ argv: command.map(fill), cwd: fill(this.#service.process.cwd), env, timeoutMs, ...(signal === undefined ? {} : { signal }), log });
  }

  async start({ version }: StartOptions): Promise<Instance> {
    const fill = (part: string): string => part.replaceAll('{version}', version);
    const [cmd, ...args] = this.#service.process.command.map(fill);
    const cwd = fill(this.#service.process.cwd);
    const details = { command: this.#service.process.command, cwd };
    await checkCwd(cwd, details);
    const port = await this.#pickPort();
    const log = this.#log.child({ version });
    const env = {
      ...this.#env,
      ...this.#service.process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      BATON_VERSION: version,
      BATON_SERVICE: this.#service.name,
    };
    let app: AppProcess;
    try {
      app = await AppProcess.spawn(cmd!, args, { cwd, env });
    } catch (err) {
      throw new BatonError('START_FAILED', await spawnFailure(cmd!, cwd, err as NodeJS.ErrnoException), { cause: err, details });
    }
    this.#running.add(app);
    app.child.once('exit', () => this.#running.delete(app));
    log.info({ app_pid: app.pid, port }, 'process started');
    return new ProcessInstance(version, port, app, log);
  }

  /**
   * Last resort when Baton itself exits without a graceful stop (a crash, a second signal):
   * synchronously SIGKILL every app process group still running, so none is orphaned.
   */
  killAllSync(): void {
    for (const app of this.#running) app.killSync();
  }

  /** Processes do not outlive Baton: there is never anything to adopt. */
  async findRunning(): Promise<Instance[]> {
    return [];
  }
}

/** A missing `cwd` would surface as `spawn node ENOENT`, which reads as "node is missing". */
async function checkCwd(cwd: string, details: Record<string, unknown>): Promise<void> {
  const st = await stat(cwd).catch(() => undefined);
  if (st === undefined) throw new BatonError('START_FAILED', `process.cwd ${cwd} does not exist`, { details });
  if (!st.isDirectory()) throw new BatonError('START_FAILED', `process.cwd ${cwd} is not a folder`, { details });
}

async function spawnFailure(cmd: string, cwd: string, err: NodeJS.ErrnoException): Promise<string> {
  const where = !cmd.includes('/') ? ' on PATH' : path.isAbsolute(cmd) ? '' : ` in ${cwd}`;
  if (err.code === 'ENOENT') {
    // A script whose #! interpreter is missing fails with ENOENT too.
    const file = cmd.includes('/') && (await stat(path.resolve(cwd, cmd)).catch(() => undefined));
    if (file) return `command ${JSON.stringify(cmd)} could not run: the interpreter on its #! line was not found (ENOENT)`;
    return `command ${JSON.stringify(cmd)} not found${where}`;
  }
  if (err.code === 'EACCES') return `command ${JSON.stringify(cmd)} is not executable (EACCES)`;
  return `could not run ${JSON.stringify(cmd)} in ${cwd}: ${err.message}`;
}

class ProcessInstance implements Instance {
  readonly host = '127.0.0.1';
  readonly survivesBaton = false;
  readonly exited: Promise<ExitInfo>;
  readonly #app: AppProcess;
  readonly #tail: OutputTail;
  readonly #log: Logger;
  #exit: ExitInfo | undefined;

  constructor(
    readonly version: string,
    readonly port: number,
    app: AppProcess,
    log: Logger,
  ) {
    this.#app = app;
    this.#log = log;
    this.#tail = new OutputTail(log);
    app.child.stdout!.on('data', (c: Buffer) => this.#tail.write('stdout', c));
    app.child.stderr!.on('data', (c: Buffer) => this.#tail.write('stderr', c));
    this.exited = new Promise((resolve) => {
      app.child.once('exit', (code, signal) => {
        this.#tail.flush();
        this.#exit = { code, signal };
        log.info({ code, signal }, 'process exited');
        resolve(this.#exit);
      });
    });
  }

  get id(): string {
    return String(this.#app.pid);
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  recentOutput(): string[] {
    return this.#tail.lines();
  }

  async logs(opts: LogsOptions, onLine: (line: OutputLine) => void): Promise<void> {
    for (const line of this.#tail.recent(opts.tail)) if (opts.since === undefined || line.time >= opts.since) onLine(line);
    if (!opts.follow || this.#exit !== undefined || opts.signal.aborted) return;
    const unfollow = this.#tail.follow(onLine);
    let signalOnAbort!: () => void;
    const aborted = new Promise<void>((resolve) => {
      signalOnAbort = resolve;
      opts.signal.addEventListener('abort', signalOnAbort, { once: true });
    });
    await Promise.race([this.exited, aborted]);
    opts.signal.removeEventListener('abort', signalOnAbort);
    unfollow();
  }

  async nativeHealth(): Promise<'none'> {
    return 'none';
  }

  async stop(graceMs: number): Promise<void> {
    if (this.#exit !== undefined) return;
    this.#app.signal('SIGTERM');
    const timer = setTimeout(() => {
      if (this.#exit === undefined) {
        this.#log.warn({ graceMs }, 'process ignored SIGTERM; killed');
        this.#app.signal('SIGKILL');
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
