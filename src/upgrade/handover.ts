/**
 * `baton upgrade` on the running Baton's side: spawn, adopt, ready, handover, drain, done.
 *
 * Nothing changes until the new Baton says it is ready (every instance adopted and healthy,
 * accepting on the inherited sockets). Then this one stops accepting (both processes held the
 * same sockets, so a connection arriving now waits in the kernel's queue for the new one: none
 * is refused), lets its in-flight requests end and its WebSockets run to `drain.websocket_grace`
 * (then 1012, as after a deploy), and exits without stopping the apps: they are the new one's.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { BatonError, isBatonError } from '../errors.js';
import { Successor } from './successor.js';
import type { ListenerName } from './protocol.js';

export type UpgradeStep = 'spawn' | 'adopt' | 'ready' | 'handover' | 'drain';
export type UpgradeEvent = { step: UpgradeStep; ms: number } & Record<string, unknown>;
export type UpgradeDone =
  | { done: true; ok: true; pid: number; previous_pid: number; ms: number }
  | { done: true; ok: false; error: { code: string; message: string; step: UpgradeStep; output?: string[] }; ms: number };

export function isUpgradeDone(e: UpgradeEvent | UpgradeDone): e is UpgradeDone {
  return e.done === true;
}

/** What the hand-over needs from the running Baton. */
export interface UpgradeHost {
  log: Logger;
  /** `baton start` again, from the installed code. */
  command: { execPath: string; argv: string[]; cwd: string; env: NodeJS.ProcessEnv };
  /** Where this process logs now: the new one logs there once in charge. */
  outputFd: number;
  /** Mirror of the new process's output while it starts (this process's log). */
  tee: (chunk: Buffer) => void;
  listeners(): Partial<Record<ListenerName, net.Server>>;
  /** Carried over outside the state file (TLS session ticket keys). */
  ticketKeys(): Buffer | undefined;
  /** The state file, written now, is what the new process adopts. */
  persist(): Promise<void>;
  /** Stop accepting on every listener and stop deciding anything (no state write, no restart of a crashed replica). */
  stopAccepting(): void;
  /** Let in-flight requests end, WebSockets run to their grace; resolves with what was cut. */
  drain(): Promise<{ cut: number; websockets_closed: number; streams_ended: number }>;
  readyTimeoutMs: number;
  /**
   * How it ended, before it is said (and, when it succeeded, before the successor is let go):
   * what the successor must find on disk is written here (the history's record of it).
   */
  ended(done: UpgradeDone): Promise<void>;
}

export async function upgrade(host: UpgradeHost, emit: (e: UpgradeEvent | UpgradeDone) => void): Promise<UpgradeDone> {
  const began = performance.now();
  let mark = began;
  let step: UpgradeStep = 'spawn';
  const stepDone = (name: UpgradeStep, extra: Record<string, unknown> = {}): void => {
    const now = performance.now();
    const ms = round(now - mark);
    mark = now;
    // `pid` is the log record's own (this process): the new one's is new_pid.
    const { pid, ...rest } = extra;
    host.log.info({ step: name, ms, ...rest, ...(pid === undefined ? {} : { new_pid: pid }) }, `upgrade: ${name}`);
    emit({ step: name, ms, ...extra });
  };
  let successor: Successor | undefined;
  try {
    await host.persist();
    successor = Successor.spawn({ ...host.command, listeners: host.listeners(), readyTimeoutMs: host.readyTimeoutMs, outputFd: host.outputFd, tee: host.tee });
    const keys = host.ticketKeys();
    await successor.send({ type: 'state', ...(keys === undefined ? {} : { ticketKeys: keys.toString('base64') }) });
    stepDone('spawn', { pid: successor.pid });
    const deadline = began + host.readyTimeoutMs;
    step = 'adopt';
    const adopted = await successor.next('adopted', deadline);
    stepDone('adopt', { services: adopted.services });
    step = 'ready';
    await successor.next('ready', deadline);
    stepDone('ready', { pid: successor.pid });
  } catch (err) {
    successor?.kill();
    const e = isBatonError(err) ? err : new BatonError('UPGRADE_FAILED', (err as Error).message);
    const output = successor?.output() ?? [];
    host.log.error({ step, code: e.code, output }, `upgrade failed: ${e.message}; this Baton serves on`);
    const failed: UpgradeDone = { done: true, ok: false, error: { code: e.code, message: e.message, step, ...(output.length > 0 ? { output } : {}) }, ms: round(performance.now() - began) };
    await host.ended(failed).catch(() => {});
    emit(failed);
    return failed;
  }
  // From here on the new process is Baton: this one only finishes what it has.
  host.stopAccepting();
  await successor.send({ type: 'handover' });
  stepDone('handover', { pid: successor.pid });
  const drained = await host.drain();
  stepDone('drain', drained);
  const ms = round(performance.now() - began);
  const done: UpgradeDone = { done: true, ok: true, pid: successor.pid, previous_pid: process.pid, ms };
  await host.ended(done).catch(() => {});
  successor.release();
  host.log.info({ new_pid: successor.pid, ms }, `upgrade done: Baton is now pid ${successor.pid}`);
  emit(done);
  return done;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
