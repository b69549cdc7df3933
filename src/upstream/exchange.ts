/**
 * One proxied request/response in flight on an upstream. The forwarder fills in how to end it;
 * the upstream's drain decides when.
 */
export type CutReason =
  /** Drain grace over for a long-lived stream (SSE): end it cleanly so the client reconnects. */
  | 'grace'
  /** Drain timeout: answer 504 if nothing was sent yet, else cut the stream. */
  | 'timeout';

export class Exchange {
  /** Set by the forwarder once the response is a long-lived stream (text/event-stream). */
  isStream = false;
  /** Set by the forwarder: how to end this exchange early. */
  onCut: ((reason: CutReason) => void) | undefined = undefined;
  #done = false;
  #release: (() => void) | undefined;

  constructor(release: () => void) {
    this.#release = release;
  }

  get done(): boolean {
    return this.#done;
  }

  cut(reason: CutReason): void {
    if (!this.#done) this.onCut?.(reason);
  }

  /** Called exactly once when the client's response has finished or closed. Idempotent. */
  finish(): void {
    if (this.#done) return;
    this.#done = true;
    const release = this.#release;
    this.#release = undefined;
    this.onCut = undefined;
    release?.();
  }
}
