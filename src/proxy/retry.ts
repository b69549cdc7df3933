import type { BodyFraming } from '../http1/types.js';
import type { Service } from '../service.js';
import type { TransportError } from '../upstream/transport.js';
import type { Exchange } from './exchange.js';
import type { ExchangeContext } from './request-path.js';

/** Methods a request may be sent again for after a reset on a reused connection (RFC 9110 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Attempts at most: the first, and one retry. */
const MAX_ATTEMPTS = 2;

/**
 * The retry rule, in one place: what cannot have reached the app is sent again (a refused
 * connection, or one reset before the request went out), and a bodiless idempotent request
 * reset before any answer (on a reused connection: the keep-alive race; or with another
 * instance to go to: `others`). Once, and never after a body byte was read or an answer began.
 */
function retryable(err: TransportError, others: boolean, attempts: number, method: string, body: BodyFraming, bodyStarted: boolean, responded: boolean): boolean {
  if (attempts >= MAX_ATTEMPTS || bodyStarted || responded) return false;
  if (err.kind === 'refused') return true;
  if (err.kind !== 'reset') return false;
  return !err.requestSent || (body.kind === 'none' && IDEMPOTENT.has(method) && (err.reused || others));
}

/**
 * What a failed attempt of `ex` leads to, decided once: passive health first (an instance that
 * refuses or resets before answering leaves the rotation for a while, unless it is the last one
 * in it: then it is all there is to try), then the retry rule. True: `ex` no longer counts on
 * its upstream and is to be sent again, avoiding it; false: the failure is Baton's to answer.
 */
export function tryAgain(ex: Exchange, err: TransportError, service: Service, ctx: ExchangeContext): boolean {
  const upstream = ex.upstream!;
  const release = service.releaseOf(upstream);
  const others = release !== undefined && release.available > (upstream.available ? 1 : 0);
  if (ex.state === 'waiting' && others && (err.kind === 'refused' || err.kind === 'reset')) {
    const ms = upstream.eject();
    ctx.log.warn({ service: ex.service, version: upstream.version, upstream: upstream.address, kind: err.kind, ejected_ms: ms }, 'instance ejected');
  }
  if (ex.state === 'waiting' && retryable(err, others, ex.attempts, ex.method, ex.body, ex.downstream.bodyStarted, ex.downstream.responded)) {
    upstream.untrack(ex);
    ctx.observer.upstreamError?.(ex.service, 'retry');
    ctx.log.debug({ service: ex.service, request_id: ex.requestId, err: err.message }, 'request retried');
    return true;
  }
  ctx.observer.upstreamError?.(ex.service, err.kind);
  ctx.log.warn(
    { service: ex.service, request_id: ex.requestId, kind: err.kind, version: upstream.version, upstream: upstream.address, err: err.message },
    'upstream request failed',
  );
  return false;
}
