import type { Upstream } from './upstream.js';
import { UpstreamConnection, type ConnectionContext } from './connection.js';
import { ReadBuffers } from './read-buffers.js';
import { Quarantine } from './quarantine.js';
import type { OutgoingRequest, ResponseHandler, Transport } from './transport.js';

/** A response head larger than this is refused (node:http's client allows 16 KiB). */
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
const MAX_RESPONSE_HEADERS = 1000;

/**
 * Baton's transport: HTTP/1.1 over keep-alive `net` connections, pooled on each upstream
 * (`Upstream.connections`), so a connection's life is its upstream's.
 */
export class NetTransport implements Transport {
  readonly #ctx: ConnectionContext = {
    buffers: new ReadBuffers(),
    limits: { maxHeadBytes: MAX_RESPONSE_HEAD_BYTES, maxHeaders: MAX_RESPONSE_HEADERS },
    quarantine: new Quarantine(),
  };

  dispatch(upstream: Upstream, request: OutgoingRequest, handler: ResponseHandler): void {
    const pool = upstream.connections;
    const conn = pool.take(request.dispatchedAt) ?? new UpstreamConnection(this.#ctx, pool, upstream.host, upstream.port);
    conn.begin(request, handler);
  }
}
