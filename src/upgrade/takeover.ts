/**
 * `baton upgrade` on the new Baton's side: it was spawned with the listening sockets and an
 * IPC channel; it learns what the state file cannot say, adopts, says when it is ready, and
 * takes charge at the hand-over.
 */
import { BatonError } from '../errors.js';
import { UPGRADE_ENV, parseSuccessorFds, type PredecessorMessage, type SuccessorFds, type SuccessorMessage } from './protocol.js';

/** How long the first message may take: the predecessor sends it right after the spawn. */
const STATE_TIMEOUT_MS = 10_000;

/**
 * A test switch (documented in the README): `adopt` makes a successor fail after adopting,
 * `hang` makes it never ready, so the failure paths can be driven for real.
 */
export const FAULT_ENV = 'BATON_UPGRADE_FAULT';

export class Takeover {
  readonly fds: SuccessorFds;
  readonly fault: string | undefined;
  readonly #messages: PredecessorMessage[] = [];
  readonly #wakers = new Set<() => void>();
  #disconnected = false;
  /** Resolves at the hand-over, or when the predecessor is gone (its channel closed). */
  readonly inCharge: Promise<void>;
  /** Resolves when the predecessor let go of this process (after its last writes) or is gone. */
  readonly released: Promise<void>;
  #onDisconnect: () => void = () => {};

  private constructor(fds: SuccessorFds, env: NodeJS.ProcessEnv) {
    this.fds = fds;
    this.fault = env[FAULT_ENV] === '' ? undefined : env[FAULT_ENV];
    process.on('message', (m: PredecessorMessage) => {
      this.#messages.push(m);
      this.#wakeAll();
    });
    this.released = new Promise<void>((resolve) => (this.#onDisconnect = resolve));
    process.once('disconnect', () => {
      this.#disconnected = true;
      this.#wakeAll();
      this.#onDisconnect();
    });
    // The channel must not keep this process alive once it is Baton.
    process.channel?.unref();
    this.inCharge = this.#wait('handover').then(() => {});
  }

  /** A Baton started by `baton upgrade`, or undefined for a plain start. */
  static fromEnv(env: NodeJS.ProcessEnv): Takeover | undefined {
    const fds = parseSuccessorFds(env[UPGRADE_ENV]);
    if (fds === undefined || typeof process.send !== 'function') return undefined;
    // Not for its own children: an app or a later successor must not believe it is one.
    delete env[UPGRADE_ENV];
    return new Takeover(fds, env);
  }

  /** The predecessor's first message: its TLS ticket keys, if any. */
  async state(): Promise<{ ticketKeys?: Buffer }> {
    const timeout = AbortSignal.timeout(STATE_TIMEOUT_MS);
    const m = await Promise.race([
      this.#wait('state'),
      new Promise<undefined>((resolve) => timeout.addEventListener('abort', () => resolve(undefined), { once: true })),
    ]);
    if (m === undefined || m.type !== 'state') throw new BatonError('UPGRADE_FAILED', 'the running Baton sent nothing to take over');
    return m.ticketKeys === undefined ? {} : { ticketKeys: Buffer.from(m.ticketKeys, 'base64') };
  }

  send(message: SuccessorMessage): Promise<void> {
    if (this.#disconnected || typeof process.send !== 'function') return Promise.resolve();
    return new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));
  }

  /** Resolves with the next message of that type, or undefined once the channel is closed. */
  async #wait(type: PredecessorMessage['type']): Promise<PredecessorMessage | undefined> {
    for (;;) {
      const i = this.#messages.findIndex((m) => m.type === type);
      if (i !== -1) return this.#messages.splice(i, 1)[0];
      if (this.#disconnected) return undefined;
      await new Promise<void>((resolve) => this.#wakers.add(resolve));
    }
  }

  #wakeAll(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const w of wakers) w();
  }
}
