/**
 * The old Baton's side of `baton upgrade`: spawn a new Baton from the installed code, hand it
 * the listening sockets as inherited descriptors, and wait until it has adopted every running
 * instance and listens. Until then nothing changes: a successor that fails (exits, says it
 * cannot adopt, or is not ready in time) is killed, and the old Baton serves on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { BatonError, type ErrorCode } from '../errors.js';
import { UPGRADE_ENV, type ListenerName, type PredecessorMessage, type SuccessorFds, type SuccessorMessage } from './protocol.js';

const OUTPUT_LINES = 30;

export interface SpawnOptions {
  /** What to run: the Node binary and the arguments of `baton start` (the installed entry, -c FILE). */
  execPath: string;
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  listeners: Partial<Record<ListenerName, net.Server>>;
  /** How long it may take to adopt and listen. */
  readyTimeoutMs: number;
  /** Where this Baton's own log goes now (2, or the descriptor it was handed): the successor's log, once in charge. */
  outputFd: number;
  /** Where the successor's output goes meanwhile (the old Baton's stderr): it is also kept for a failure report. */
  tee: (chunk: Buffer) => void;
}

export interface Adopted {
  services: Record<string, { version: string; instances: number; canary?: string }>;
}

/** A new Baton, started and not yet in charge. */
export class Successor {
  readonly child: ChildProcess;
  readonly #output: string[] = [];
  #partial = '';
  #exit: { code: number | null; signal: string | null } | undefined;
  readonly #messages: SuccessorMessage[] = [];
  #wake: (() => void) | undefined;

  private constructor(child: ChildProcess, tee: (chunk: Buffer) => void) {
    this.child = child;
    const onOutput = (chunk: Buffer): void => {
      tee(chunk);
      const lines = (this.#partial + chunk.toString('utf8')).split('\n');
      this.#partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim() !== '') this.#output.push(l);
      if (this.#output.length > OUTPUT_LINES) this.#output.splice(0, this.#output.length - OUTPUT_LINES);
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    child.on('message', (m: SuccessorMessage) => {
      this.#messages.push(m);
      this.#wake?.();
    });
    child.once('exit', (code, signal) => {
      this.#exit = { code, signal };
      this.#wake?.();
    });
  }

  static spawn(opts: SpawnOptions): Successor {
    // Listeners go across as inherited descriptors (5 on: 0-2 stdio, 3 IPC, 4 the log): the new process
    // accepts on them only when it calls listen(), once ready. (Sending a server over IPC would
    // make it accept at once, before anything there could answer.)
    const stdio: Array<'ignore' | 'pipe' | 'ipc' | number> = ['ignore', 'pipe', 'pipe', 'ipc', opts.outputFd];
    const fds: SuccessorFds = { stderr: 4, listeners: {} };
    for (const [name, server] of Object.entries(opts.listeners) as Array<[ListenerName, net.Server]>) {
      const fd = descriptorOf(server);
      if (fd === undefined) throw new BatonError('UPGRADE_FAILED', `the ${name} listener has no file descriptor to hand over`);
      fds.listeners[name] = stdio.length;
      stdio.push(fd);
    }
    const child = spawn(opts.execPath, opts.argv, { cwd: opts.cwd, env: { ...opts.env, [UPGRADE_ENV]: JSON.stringify(fds) }, stdio });
    return new Successor(child, opts.tee);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Its last output lines, for a failure report. */
  output(): string[] {
    return this.#partial === '' ? [...this.#output] : [...this.#output, this.#partial];
  }

  /** Resolves with the next message of type `type`; rejects if the process exits or says it failed first, or at `deadline`. */
  async next<T extends SuccessorMessage['type']>(type: T, deadline: number): Promise<Extract<SuccessorMessage, { type: T }>> {
    for (;;) {
      const i = this.#messages.findIndex((m) => m.type === type || m.type === 'failed');
      if (i !== -1) {
        const m = this.#messages.splice(i, 1)[0]!;
        if (m.type === 'failed') throw new BatonError(m.error.code as ErrorCode, `the new Baton could not take over: ${m.error.message}`, { details: { output: this.output() } });
        return m as Extract<SuccessorMessage, { type: T }>;
      }
      if (this.#exit !== undefined) {
        const how = this.#exit.signal !== null ? `signal ${this.#exit.signal}` : `exit code ${this.#exit.code}`;
        throw new BatonError('UPGRADE_FAILED', `the new Baton exited (${how}) before it was ready`, { details: { output: this.output() } });
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new BatonError('UPGRADE_FAILED', 'the new Baton was not ready in time', { details: { output: this.output() } });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Resolves once the message is written to the channel (or at once if the process is gone). */
  send(message: PredecessorMessage): Promise<void> {
    if (!this.child.connected) return Promise.resolve();
    return new Promise((resolve) => this.child.send(message, () => resolve()));
  }

  /** It failed: it must not take anything over. */
  kill(): void {
    if (this.#exit === undefined) this.child.kill('SIGKILL');
  }

  /** In charge now: it must outlive this process (no pipes, no IPC left to it). */
  release(): void {
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    if (this.child.connected) this.child.disconnect();
    this.child.unref();
  }
}

/** The descriptor of a listening server (Unix). */
function descriptorOf(server: net.Server): number | undefined {
  const handle: unknown = Reflect.get(server, '_handle');
  const fd: unknown = handle === null || typeof handle !== 'object' ? undefined : Reflect.get(handle, 'fd');
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
