/**
 * What the dashboard's event stream carries (`GET /v1/events`): history records as they begin,
 * gain steps and end, and once a second a tick with every service's status and its new series
 * point. Baton publishes; each connected stream is one subscriber, removed when it closes.
 */
import type { StatusBody } from '../control/protocol.js';
import type { HistoryEntry } from './history-entry.js';
import type { SeriesPoint } from './series.js';

export type LiveEvent = { type: 'history'; entry: HistoryEntry } | { type: 'tick'; t: number; status: StatusBody; points: Record<string, SeriesPoint> };

export class LiveEvents {
  readonly #subscribers = new Set<(e: LiveEvent) => void>();

  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Hear every event from now on, until the returned function is called. */
  subscribe(listener: (e: LiveEvent) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  publish(e: LiveEvent): void {
    for (const s of this.#subscribers) s(e);
  }
}
