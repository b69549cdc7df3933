/**
 * The Runtime interface: how a version of a service is started and stopped. The swap only
 * ever talks to this interface, so a process, a container or (later) a replica set on another
 * engine are interchangeable.
 */

/** How an instance ended on its own. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/** One line an instance wrote, for `baton logs`. */
export interface OutputLine {
  stream: 'stdout' | 'stderr';
  line: string;
  /** When it was written (ms since the epoch). */
  time: number;
}

export interface LogsOptions {
  /** How many of the last lines to pass first (0: none). */
  tail: number;
  /** Of those, only the ones written at or after this time (ms since the epoch). */
  since?: number;
  /** Then keep passing new lines until the instance exits or `signal` aborts. */
  follow: boolean;
  signal: AbortSignal;
}

/** What a Baton remembers of a process-runtime instance, so the next one can find it again (state file). */
export interface SavedInstance {
  version: string;
  pid: number;
  /** /proc/PID/stat's start time: with the pid, the process's identity. */
  start_time: string;
  port: number;
  /** Its output files. */
  out: string;
  err: string;
}

/** One running version of a service, as started (or adopted) by a runtime. */
export interface Instance {
  readonly version: string;
  /** Where the proxy reaches it. */
  readonly host: string;
  readonly port: number;
  /** pid for processes, container id for Docker. */
  readonly id: string;
  /** Resolves when the instance exits by itself or is stopped; never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** How it ended, once it has (undefined while it runs). */
  readonly exitInfo: ExitInfo | undefined;
  /** The last lines the app wrote (stdout and stderr interleaved), for failure reports. */
  recentOutput(): string[];
  /**
   * The app's output for `baton logs`: its last `tail` lines, then with `follow` each new one.
   * Resolves when done (at once without `follow`); never rejects.
   */
  logs(opts: LogsOptions, onLine: (line: OutputLine) => void): Promise<void>;
  /**
   * Extra readiness the runtime knows of beyond Baton's HTTP probe (a Docker HEALTHCHECK).
   * 'none' when there is nothing to wait for.
   */
  nativeHealth(): Promise<'healthy' | 'unhealthy' | 'starting' | 'none'>;
  /** Graceful stop (SIGTERM / docker stop), then forceful after graceMs. Idempotent. */
  stop(graceMs: number): Promise<void>;
  /**
   * Leave the instance running when Baton exits (Docker containers are adopted by the
   * next start). Process instances return false: Baton stops what it started.
   */
  readonly survivesBaton: boolean;
  /** What the state file keeps of it, for instances the runtime cannot find by itself (processes). */
  descriptor?(): SavedInstance;
}

export interface StartOptions {
  version: string;
  signal?: AbortSignal;
}

/** A command run once, as a version (a migration), not a server. */
export interface RunOnceOptions {
  version: string;
  /** argv; "{version}" in any element is replaced. */
  command: string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface RunOnceResult {
  exitCode: number | null;
  signal: string | null;
  /** It ran past `timeoutMs` and was killed. */
  timedOut: boolean;
  /** Its last output lines (stdout and stderr interleaved). */
  output: string[];
  ms: number;
}

export interface Runtime {
  readonly kind: 'process' | 'docker';
  /** Start `version` beside whatever runs now. Rejects with a BatonError (code START_FAILED / IMAGE_NOT_FOUND). */
  start(opts: StartOptions): Promise<Instance>;
  /**
   * Running instances Baton started earlier for this service (Docker: labelled containers),
   * newest first. Used by `baton start` to adopt instead of restart.
   */
  findRunning(saved?: readonly SavedInstance[]): Promise<Instance[]>;
  /**
   * Stop and remove every instance of this service Baton left behind (running or exited),
   * except `keep`: versions replaced while Baton was down, deploys cut short by a crash.
   * Resolves with the ids removed. Runtimes whose instances die with Baton need none.
   */
  removeStale?(keep: readonly Instance[], graceMs: number): Promise<string[]>;
  /**
   * Run `command` once as `version` (with that version's environment: the process runtime's
   * env and cwd, or a one-off container of the version's image), to its end or the timeout.
   * Its output goes to Baton's log. Rejects with START_FAILED when it cannot be run at all.
   */
  runOnce(opts: RunOnceOptions): Promise<RunOnceResult>;
  /** New settings of the service (a reload), for the instances started from now on. */
  reconfigure?(service: import('../config/types.js').ServiceConfig): void;
  /**
   * Let go of whatever the runtime follows (log streams, exit waits) without stopping the
   * instances that survive Baton. Called once, when Baton exits.
   */
  close?(): void;
}
