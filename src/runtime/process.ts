import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/types.js';
import { BatonError } from '../errors.js';
import type { ExitInfo, Instance, RunOnceOptions, RunOnceResult, Runtime, StartOptions } from './runtime.js';
import { runProcessOnce } from './one-off.js';
import { OutputTail } from './output.js';

/**
 * Runs each version as a child process on a free loopback port: the embedded default, no
 * Docker needed. Baton stops what it started when it exits.
 */
export class ProcessRuntime implements Runtime {
  readonly kind = 'process' as const;
  #service: ServiceConfig;
  readonly #log: Logger;
  readonly #pickPort: () => Promise<number>;
  readonly #env: NodeJS.ProcessEnv;
  readonly #children = new Set<ChildProcess>();

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

  async start({ version }: StartOptions): Promise<Instance> {
    const port = await this.#pickPort();
    const [cmd, ...args] = this.#service.process.command.map((part) => part.replaceAll('{version}', version));
    const log = this.#log.child({ version });
    const env = {
      ...this.#env,
      ...this.#service.process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      BATON_VERSION: version,
      BATON_SERVICE: this.#service.name,
    };
    const child = spawn(cmd!, args, { cwd: this.#service.process.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (err) => resolve(err));
    });
    if (spawned !== undefined) {
      throw new BatonError('START_FAILED', `could not run ${JSON.stringify(cmd)} in ${this.#service.process.cwd}: ${spawned.message}`, {
        cause: spawned,
        details: { command: this.#service.process.command },
      });
    }
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    log.info({ app_pid: child.pid, port }, 'process started');
    return new ProcessInstance(version, port, child, log);
  }

  /** A migration (or any command run once) with this version's command environment. */
  runOnce({ version, command, timeoutMs, signal }: RunOnceOptions): Promise<RunOnceResult> {
    const fill = (part: string): string => part.replaceAll('{version}', version);
    const env = { ...this.#env, ...this.#service.process.env, BATON_VERSION: version, BATON_SERVICE: this.#service.name };
    const log = this.#log.child({ version, one_off: 'migrate' });
    return runProcessOnce({ argv: command.map(fill), cwd: fill(this.#service.process.cwd), env, timeoutMs, ...(signal === undefined ? {} : { signal }), log });
  }

  /**
   * Last resort when Baton itself exits without a graceful stop (a crash, a second signal):
   * synchronously SIGKILL every child still running, so none is orphaned.
   */
  killAllSync(): void {
    for (const child of this.#children) child.kill('SIGKILL');
  }

  /** Processes do not outlive Baton: there is never anything to adopt. */
  async findRunning(): Promise<Instance[]> {
    return [];
  }
}

class ProcessInstance implements Instance {
  readonly host = '127.0.0.1';
  readonly survivesBaton = false;
  readonly exited: Promise<ExitInfo>;
  readonly #child: ChildProcess;
  readonly #tail: OutputTail;
  readonly #log: Logger;
  #exit: ExitInfo | undefined;

  constructor(
    readonly version: string,
    readonly port: number,
    child: ChildProcess,
    log: Logger,
  ) {
    this.#child = child;
    this.#log = log;
    this.#tail = new OutputTail(log);
    child.stdout!.on('data', (c: Buffer) => this.#tail.write('stdout', c));
    child.stderr!.on('data', (c: Buffer) => this.#tail.write('stderr', c));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#tail.flush();
        this.#exit = { code, signal };
        log.info({ code, signal }, 'process exited');
        resolve(this.#exit);
      });
    });
  }

  get id(): string {
    return String(this.#child.pid);
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  recentOutput(): string[] {
    return this.#tail.lines();
  }

  async nativeHealth(): Promise<'none'> {
    return 'none';
  }

  async stop(graceMs: number): Promise<void> {
    if (this.#exit !== undefined) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.#exit === undefined) {
        this.#log.warn({ graceMs }, 'process ignored SIGTERM; killed');
        this.#child.kill('SIGKILL');
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
