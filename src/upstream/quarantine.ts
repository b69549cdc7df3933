/**
 * Connections between their answer and their return to the pool (see UpstreamConnection's
 * `#release`): they wait until a poll for reads has passed, so bytes an app wrote past its
 * answer are seen before the connection carries another request (issue 17). Every connection
 * released in a turn of the event loop waits in one list, with one immediate per turn rather
 * than two per request, and one clock read per turn for the time they went idle.
 */

/** What waits in quarantine. */
export interface Quarantined {
  /** The wait is over at `now` (performance.now()): back to the pool if still fit. */
  releaseNow(now: number): void;
}

export class Quarantine {
  /** Released since the last check phase. */
  #entering: Quarantined[] = [];
  /** Released before the last check phase: a poll for reads has passed once the next one runs. */
  #waiting: Quarantined[] = [];
  #scheduled = false;

  add(conn: Quarantined): void {
    this.#entering.push(conn);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#turn);
    }
  }

  #turn = (): void => {
    const done = this.#waiting;
    this.#waiting = this.#entering;
    this.#entering = [];
    if (done.length > 0) {
      const now = performance.now();
      for (const conn of done) conn.releaseNow(now);
    }
    if (this.#waiting.length > 0 || this.#entering.length > 0) setImmediate(this.#turn);
    else this.#scheduled = false;
  };
}
