/**
 * The control API's NDJSON replies: the events of a swap or an upgrade, one per line, and the
 * output of a service's instances (`baton logs`), followed until the client leaves or the
 * server closes.
 */
import type http from 'node:http';
import { BatonError, isBatonError } from '../errors.js';
import { parseLogsQuery, streamLogs } from './logs.js';
import type { ControlApi, SwapEvent, UpgradeDone } from './protocol.js';
import { sendError } from './reply.js';

/** NDJSON stream of swap events; an error before the first event is a plain error reply. */
export async function sendEvents<E extends object>(res: http.ServerResponse, run: (emit: (e: E) => void) => Promise<E | UpgradeDone>): Promise<void> {
  const emit = (e: E | SwapEvent): void => {
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    if (!res.destroyed) res.write(JSON.stringify(e) + '\n');
  };
  try {
    await run(emit);
    res.end();
  } catch (err) {
    if (!res.headersSent) return sendError(res, err);
    // Failed mid-stream (a fault, not an expected outcome): still end with a done event.
    const e = isBatonError(err) ? err : new BatonError('INTERNAL', (err as Error).message);
    emit({ done: true, ok: false, error: { ...e.toJSON(), step: 'stop', version: '' }, ms: 0 });
    res.end();
  }
}

/** The log streams being written: ended cleanly by close(), so a `logs -f` ends with exit 0. */
export class LogStreams {
  readonly #streams = new Map<AbortController, Promise<void>>();

  /** NDJSON of the service's output; a bad query or unknown service is a plain error reply. */
  async send(req: http.IncomingMessage, res: http.ServerResponse, api: ControlApi, service: string): Promise<void> {
    let instances: () => ReturnType<ControlApi['instances']>;
    let query: ReturnType<typeof parseLogsQuery>;
    try {
      query = parseLogsQuery(new URL(req.url ?? '/', 'http://control').searchParams);
      api.instances(service);
      instances = () => api.instances(service);
    } catch (err) {
      return sendError(res, err);
    }
    const left = new AbortController();
    const resOnClose = (): void => left.abort();
    res.once('close', resOnClose);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    // Headers now, so a follow with nothing to say yet still tells the client it is connected.
    res.flushHeaders();
    const written = streamLogs(instances, query, left.signal, (r) => {
      if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify(r) + '\n');
    }).then(
      () =>
        new Promise<void>((resolve) => {
          res.removeListener('close', resOnClose);
          if (res.destroyed) return resolve();
          res.end(resolve);
        }),
    );
    this.#streams.set(left, written);
    await written;
    this.#streams.delete(left);
  }

  /** End every stream, waiting for them at most `waitMs`. */
  async close(waitMs: number): Promise<void> {
    for (const left of this.#streams.keys()) left.abort();
    await Promise.race([Promise.all(this.#streams.values()), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }
}
