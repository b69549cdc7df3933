import { closeSync, unlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/types.js';
import { BatonError } from '../errors.js';
import type { ExitInfo, Instance, LogsOptions, OutputLine, RunOnceOptions, RunOnceResult, Runtime, SavedInstance, StartOptions } from './runtime.js';
import { FileTail, openOutputFiles, type OutputFiles } from './app-output.js';
import { runProcessOnce } from './one-off.js';
import { OutputTail } from './output.js';
import { AppProcess } from './app-process.js';

/**
 * Runs each version as a child process on a free loopback port: the embedded default, no
 * Docker needed. `{version}` is replaced in the command and in `cwd`, so a version can be a
 * folder, a git worktree or a binary of its own. Apps write to files (app-output.ts), so they
 * outlive a Baton that hands over to a new one or crashes; the next Baton adopts them by pid
 * and start time (`findRunning`). A Baton that stops (SIGTERM) stops what it runs.
 */
export class ProcessRuntime implements Runtime {
  readonly kind = 'process' as const;
  #service: ServiceConfig;
  readonly #log: Logger;
  readonly #pickPort: () => Promise<number>;
  readonly #env: NodeJS.ProcessEnv;
  readonly #outputDir: string;
  readonly #running = new Set<ProcessInstance>();

  /** `env` is the environment apps inherit (Baton's own, read once in cli.ts); `outputDir` where their output files go. */
  constructor(opts: { service: ServiceConfig; log: Logger; pickPort: () => Promise<number>; env: NodeJS.ProcessEnv; outputDir: string }) {
    this.#service = opts.service;
    this.#log = opts.log;
    this.#pickPort = opts.pickPort;
    this.#env = opts.env;
    this.#outputDir = opts.outputDir;
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
    const { files, fds } = openOutputFiles(this.#outputDir, `${this.#service.name}-${version}`);
    let app: AppProcess;
    try {
      app = await AppProcess.spawn(cmd!, args, { cwd, env, out: fds.out, err: fds.err });
    } catch (err) {
      removeFiles(files);
      throw new BatonError('START_FAILED', await spawnFailure(cmd!, cwd, err as NodeJS.ErrnoException), { cause: err, details });
    } finally {
      closeSync(fds.out);
      closeSync(fds.err);
    }
    log.info({ app_pid: app.pid, port }, 'process started');
    return this.#track(new ProcessInstance({ version, port, app, files, log, adopted: false }));
  }

  /**
   * The apps an earlier Baton left running (`saved`, from the state file), still alive with the
   * same start time: after `baton upgrade` or a crash. Newest first.
   */
  async findRunning(saved: readonly SavedInstance[] = []): Promise<Instance[]> {
    const found: ProcessInstance[] = [];
    for (const s of [...saved].reverse()) {
      const app = AppProcess.adopt(s.pid, s.start_time);
      if (app === undefined) continue;
      const log = this.#log.child({ version: s.version });
      log.info({ app_pid: s.pid, port: s.port }, 'running process found');
      found.push(this.#track(new ProcessInstance({ version: s.version, port: s.port, app, files: { out: s.out, err: s.err }, log, adopted: true })));
    }
    return found;
  }

  /**
   * Last resort when Baton itself exits without a graceful stop (a second signal): synchronously
   * SIGKILL every app process group still running, so none is orphaned.
   */
  killAllSync(): void {
    for (const i of this.#running) i.killSync();
  }

  /** Baton hands its apps over to a new Baton: leave them running, stop following them. */
  close(): void {
    for (const i of this.#running) i.release();
    this.#running.clear();
  }

  #track(instance: ProcessInstance): ProcessInstance {
    this.#running.add(instance);
    void instance.exited.then(() => this.#running.delete(instance));
    return instance;
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
  readonly version: string;
  readonly port: number;
  readonly exited: Promise<ExitInfo>;
  readonly #app: AppProcess;
  readonly #files: OutputFiles;
  readonly #tail: OutputTail;
  readonly #follow: FileTail[];
  readonly #log: Logger;

  constructor(opts: { version: string; port: number; app: AppProcess; files: OutputFiles; log: Logger; adopted: boolean }) {
    this.version = opts.version;
    this.port = opts.port;
    this.#app = opts.app;
    this.#files = opts.files;
    this.#log = opts.log;
    this.#tail = new OutputTail(opts.log);
    this.#follow = [new FileTail(opts.files.out, 'stdout', this.#tail, { fromEnd: opts.adopted }), new FileTail(opts.files.err, 'stderr', this.#tail, { fromEnd: opts.adopted })];
    this.exited = opts.app.exited.then((exit) => {
      for (const f of this.#follow) f.stop(true);
      this.#tail.flush();
      opts.log.info({ code: exit.code, signal: exit.signal }, 'process exited');
      return exit;
    });
  }

  get id(): string {
    return String(this.#app.pid);
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#app.exitInfo;
  }

  /** What the next Baton needs to find this process again. */
  descriptor(): SavedInstance {
    return { version: this.version, pid: this.#app.pid, start_time: this.#app.startTime, port: this.port, out: this.#files.out, err: this.#files.err };
  }

  recentOutput(): string[] {
    return this.#tail.lines();
  }

  async logs(opts: LogsOptions, onLine: (line: OutputLine) => void): Promise<void> {
    for (const line of this.#tail.recent(opts.tail)) if (opts.since === undefined || line.time >= opts.since) onLine(line);
    if (!opts.follow || this.exitInfo !== undefined || opts.signal.aborted) return;
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
    if (this.exitInfo !== undefined) return;
    this.#app.signal('SIGTERM');
    const timer = setTimeout(() => {
      if (this.exitInfo === undefined) {
        this.#log.warn({ graceMs }, 'process ignored SIGTERM; killed');
        this.#app.signal('SIGKILL');
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killSync(): void {
    this.#app.killSync();
  }

  /** Handed over: keep running, stop following (its files stay for the next Baton). */
  release(): void {
    this.#app.release();
    for (const f of this.#follow) f.stop(false);
  }
}

function removeFiles(files: OutputFiles): void {
  for (const f of [files.out, files.err]) {
    try {
      unlinkSync(f);
    } catch {
      // Not there.
    }
  }
}
