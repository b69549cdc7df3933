/**
 * An operator's pause of one service (`baton pause`): a hold of its gate until resume, or until
 * the pause's own timeout, which then resumes it.
 */
import type { Logger } from 'pino';
import type { Gate } from './gate.js';

/** One service's pause: its timer and when it ends, over the service's gate. */
export class Pause {
  readonly #gate: Gate;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #until: number | undefined;

  constructor(gate: Gate, log: Logger) {
    this.#gate = gate;
    this.#log = log;
  }

  /** The pause under way: until when (epoch ms; null: until resume). */
  get current(): { until: number | null } | undefined {
    return this.#gate.isHeldBy('pause') ? { until: this.#until ?? null } : undefined;
  }

  /** When the last pause with a timeout was due to end (epoch ms), until end() clears it. */
  get until(): number | undefined {
    return this.#until;
  }

  /** Hold new requests until end(), or until `timeoutMs` has passed when given. */
  start(timeoutMs?: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#until = undefined;
    // A pause's own timeout bounds how long its requests wait (it resumes them then); without
    // one, hold.timeout does (issue 15: a 30 s pause answered 503 after 10 s).
    this.#gate.hold('pause', timeoutMs === undefined ? undefined : Number.POSITIVE_INFINITY);
    if (timeoutMs !== undefined) {
      this.#until = Date.now() + timeoutMs;
      this.#timer = setTimeout(() => {
        this.#log.info({ timeout_ms: timeoutMs }, 'pause timed out; resumed');
        this.end();
      }, timeoutMs);
    }
    this.#log.info({ timeout_ms: timeoutMs ?? null }, 'service paused');
  }

  /** Release the pause; returns how many held requests were released. */
  end(): number {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#until = undefined;
    const queued = this.#gate.queued;
    const heldMs = this.#gate.release('pause');
    this.#log.info({ released: queued, held_ms: heldMs ?? null }, 'service resumed');
    return queued;
  }

  /** Baton is stopping: no timer left, the held requests go on. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#gate.release('pause');
  }
}
