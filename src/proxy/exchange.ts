/**
 * One request through Baton, from the moment it is routed to its last byte: the only record
 * of it. It owns the hold wait, the attempts and the retry rule (retry.ts), the error pages, the
 * drain cut and event-stream detection, script injection (response-start.ts), and what is
 * reported when it ends (metrics, access log). It stands between a Downstream (the client side:
 * downstream.ts) and the transport (upstream/transport.ts), and implements both their contracts.
 */
import type { BodyFraming, ResponseHead } from '../http1/types.js';
import type { Service, Side } from '../service.js';
import type { Upstream, InFlight, CutReason } from '../upstream/upstream.js';
import type { RequestController, ResponseHandler, TransportError } from '../upstream/transport.js';
import type { HoldOutcome, Waiter } from '../swap/gate.js';
import type { BodyError, BodySink, Downstream, DownstreamEvents } from './downstream.js';
import type { DeadlineEntry, DeadlineList } from './deadlines.js';
import type { ExchangeContext } from './request-path.js';
import { exchangeHeaders, lastFieldValue } from './headers.js';
import { clientAddress } from './client-address.js';
import { sendError, type ProxyErrorKind } from './error-pages.js';
import type { ScriptInjector } from './inject.js';
import { sendMaintenance } from './maintenance.js';
import { stripPrefix } from './router.js';
import { chooseSide } from './canary.js';
import { tryAgain } from './retry.js';
import { startResponse } from './response-start.js';
import { answerHealthy, isHealthCheck } from './held-health.js';
import { NEXT, type ExchangeRecord, type ExchangeState, type Outcome } from './exchange-state.js';

export type { ExchangeRecord, ExchangeState, Outcome } from './exchange-state.js';

export class Exchange implements ResponseHandler, BodySink, DownstreamEvents, InFlight, Waiter, DeadlineEntry, ExchangeRecord {
  readonly #ctx: ExchangeContext;
  readonly downstream: Downstream;
  readonly #service: Service;
  readonly requestId: string;
  readonly startedAt: number;
  // OutgoingRequest, for the transport.
  readonly method: string;
  readonly path: string;
  readonly body: BodyFraming;
  readonly outgoingHeaders: string[];
  // DeadlineEntry: the upstream headers timeout, without a timer of its own.
  deadlinePrev: DeadlineEntry | undefined = undefined;
  deadlineNext: DeadlineEntry | undefined = undefined;
  deadlineAt = 0;
  deadlineList: DeadlineList | undefined = undefined;

  state: ExchangeState = 'new';
  upstream: Upstream | undefined;
  isStream = false;
  attempts = 0;
  status = 0;
  outcome: Outcome | undefined;
  heldMs = 0;
  bytesIn = 0;
  bytesOut = 0;
  durationMs = 0;
  firstByteMs = -1;
  #controller: RequestController | undefined;
  /** When the last attempt was dispatched (performance.now()). */
  dispatchedAt = 0;
  #ticket: { withdraw(): void } | undefined;
  #injector: ScriptInjector | undefined;
  #side: Side = 'stable';
  #setCookie: string | undefined;

  /** `route`: the authority the request was routed on, and the path prefix that matched. */
  constructor(ctx: ExchangeContext, downstream: Downstream, service: Service, route: { authority: string; prefix: string }) {
    this.#ctx = ctx;
    this.downstream = downstream;
    // Created in the turn the head was complete: the connection's clock read is the start.
    this.startedAt = downstream.receivedAt ?? performance.now();
    this.#service = service;
    this.method = downstream.method;
    const strip = service.config.stripPrefix && route.prefix !== '/';
    this.path = strip ? stripPrefix(route.prefix, downstream.path) : downstream.path;
    this.body = downstream.body;
    this.requestId = ctx.ids.of(downstream.headers);
    this.outgoingHeaders = exchangeHeaders(ctx, downstream, route.authority, this.requestId, strip ? route.prefix : undefined);
  }

  get service(): string {
    return this.#service.name;
  }

  // Read by the access log only, so computed when asked rather than per request (issue 16).
  /** The client's address: the socket's, or, from a trusted proxy, the X-Forwarded-For entry it vouches for. */
  get clientAddress(): string {
    return clientAddress(this.downstream.remoteAddress, this.downstream.headers, this.#ctx.trusted);
  }

  /** The traceparent sent upstream (the client's, or one Baton generated), if any. */
  get traceparent(): string | undefined {
    return lastFieldValue(this.outgoingHeaders, 'traceparent');
  }

  /** Admit the request: at once when its service serves, else into the gate's queue. */
  start(): void {
    this.downstream.attach(this);
    const maintenance = this.#service.maintenance;
    if (maintenance !== undefined && !isHealthCheck(this.method, this.downstream.path, this.#service.config.health.path)) {
      this.status = sendMaintenance(this.downstream, { message: maintenance.message, page: maintenance.page, retryAfterS: Math.ceil(this.#service.config.maintenance.retryAfterMs / 1000) }, this.requestId);
      return this.#finish('baton:maintenance');
    }
    const canary = this.#service.canary;
    if (canary !== undefined) {
      const choice = chooseSide(this.downstream.headers, this.service, canary.release.version, canary.percent, this.downstream.secure, Math.random);
      this.#side = choice.side;
      this.#setCookie = choice.setCookie;
    }
    const gate = this.#service.gate;
    // Dispatched in the same turn it started: one clock read for both.
    if (gate.open) return this.#dispatch(undefined, this.startedAt);
    // Held. The health path still answers, so an outer load balancer keeps Baton in.
    if (isHealthCheck(this.method, this.downstream.path, this.#service.config.health.path)) {
      this.status = 200;
      answerHealthy(this.downstream, this.method);
      return this.#finish('ok');
    }
    const ticket = gate.enqueue(this);
    if (ticket === 'overflow') {
      this.#ctx.observer.held?.(this.service, 'overflow', 0);
      return this.#answer('hold_overflow');
    }
    this.#to('held');
    this.#ticket = ticket;
  }

  // --- Waiter (the gate) ----------------------------------------------------------------------

  settle(outcome: HoldOutcome, waitedMs: number): void {
    this.#ticket = undefined;
    this.heldMs = waitedMs;
    this.#ctx.observer.held?.(this.service, outcome, waitedMs);
    if (outcome === 'timed_out') this.#answer('hold_timeout');
    else this.#dispatch(undefined); // released, or Baton stopping: to whatever is active now
  }

  // --- attempts ---------------------------------------------------------------------------------

  #dispatch(avoid: Upstream | undefined, now = performance.now()): void {
    if (this.state === 'done') return;
    const upstream = this.#service.pick(avoid, this.#side);
    // Instances, but none in the rotation (all down or failing): the app cannot be reached.
    if (upstream === undefined) return this.#answer(this.#service.hasRelease(this.#side) ? 'bad_gateway' : 'no_upstream');
    this.#to('waiting');
    this.upstream = upstream;
    this.attempts++;
    upstream.track(this);
    this.dispatchedAt = now;
    this.#ctx.deadlines.add(this, this.#ctx.limits.upstreamHeadersTimeoutMs, now);
    this.#ctx.transport.dispatch(upstream, this, this);
  }

  // --- ResponseHandler (the transport) -----------------------------------------------------------

  onRequestStart(controller: RequestController): void {
    // The client left while the upstream connection was being made (issue 11: an HTTP/2 client
    // resets a stream at once): there was no controller to abort then, there is now.
    if (this.state === 'done') return controller.abort();
    this.#controller = controller;
    if (this.body.kind !== 'none') this.downstream.readBody(this);
  }

  onRequestDrain(): void {
    this.downstream.resumeBody();
  }

  onResponseStart(head: ResponseHead): void {
    this.#ctx.deadlines.remove(this);
    this.#to('streaming');
    this.firstByteMs = performance.now() - this.dispatchedAt;
    this.upstream!.served();
    this.status = head.status;
    this.#injector = startResponse(this.downstream, head, this.method, this.requestId, this.#service.config.notify.inject, this.#setCookie);
    if (head.contentType !== undefined && head.contentType.startsWith('text/event-stream')) {
      this.isStream = true;
      this.downstream.flush();
    }
  }

  onResponseData(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    const injector = this.#injector;
    if (injector === undefined) return this.downstream.write(chunk);
    let ok = true;
    for (const piece of injector.feed(chunk)) ok = this.downstream.write(piece);
    return ok;
  }

  released(): boolean {
    // The injector copies what it holds back; only the client side can still hold a chunk.
    return this.downstream.flushed;
  }

  onResponseEnd(trailers: readonly string[]): void {
    if (this.#injector !== undefined) for (const piece of this.#injector.end()) this.downstream.write(piece);
    this.downstream.end(trailers);
    this.#finish(this.attempts > 1 ? 'retried' : 'ok');
  }

  onResponseError(err: TransportError): void {
    this.#controller = undefined;
    this.#ctx.deadlines.remove(this);
    if (tryAgain(this, err, this.#service, this.#ctx)) return this.#dispatch(this.upstream);
    this.#answer('bad_gateway', `upstream_error:${err.kind}`);
  }

  // --- BodySink (the client's body) -------------------------------------------------------------

  onBodyData(chunk: Buffer): boolean {
    this.bytesIn += chunk.length;
    return this.#controller === undefined ? true : this.#controller.writeBody(chunk);
  }

  onBodyEnd(trailers: readonly string[]): void {
    this.#controller?.endBody(trailers);
  }

  onBodyError(reason: BodyError): void {
    if (reason === 'aborted') return this.downstreamClosed();
    this.#abortUpstream();
    this.#ctx.observer.upstreamError?.(this.service, 'other');
    this.#answer(reason === 'too_large' ? 'payload_too_large' : 'bad_request');
  }

  // --- DownstreamEvents (the client) -------------------------------------------------------------

  downstreamDrained(): void {
    this.#controller?.resume();
  }

  /** The client went away before its answer ended: stop everything on its behalf. */
  downstreamClosed(): void {
    if (this.state === 'done') return;
    this.#ticket?.withdraw();
    this.#ticket = undefined;
    this.#abortUpstream();
    this.#finish('client_aborted');
  }

  // --- InFlight (the drain) and the deadline ----------------------------------------------------

  cut(reason: CutReason): void {
    if (this.state === 'done') return;
    this.#abortUpstream();
    if (reason === 'grace' && this.downstream.responded) {
      // A long-lived stream at the end of the grace: end it cleanly, the client reconnects.
      this.downstream.end();
      return this.#finish('cut_by_drain');
    }
    this.#answer('drain_timeout', 'cut_by_drain');
  }

  onDeadline(): void {
    if (this.state !== 'waiting') return;
    this.#abortUpstream();
    this.#ctx.observer.upstreamError?.(this.service, 'timeout');
    this.#ctx.log.warn({ service: this.service, request_id: this.requestId, upstream: this.upstream?.address }, 'upstream headers timeout');
    this.#answer('gateway_timeout', 'upstream_error:timeout');
  }

  // --- the end ------------------------------------------------------------------------------------

  /** Baton answers (an error page, or a cut when the answer had started), and the exchange ends. */
  #answer(kind: ProxyErrorKind, outcome: Outcome = `baton:${kind}`): void {
    if (this.state === 'done') return;
    this.#abortUpstream();
    this.status = sendError(this.downstream, kind, this.requestId);
    this.#finish(outcome);
  }

  #abortUpstream(): void {
    this.#ctx.deadlines.remove(this);
    const controller = this.#controller;
    this.#controller = undefined;
    controller?.abort();
  }

  #finish(outcome: Outcome): void {
    if (this.state === 'done') return;
    this.#to('done');
    this.outcome = outcome;
    // The connection may carry another request now: this exchange lets go of it.
    this.#controller = undefined;
    this.#ctx.deadlines.remove(this);
    this.durationMs = performance.now() - this.startedAt;
    this.upstream?.untrack(this);
    this.#ctx.observer.requestFinished?.(this);
  }

  #to(next: ExchangeState): void {
    if (!NEXT[this.state].includes(next)) throw new Error(`exchange ${this.requestId}: ${this.state} -> ${next} is not a transition`);
    this.state = next;
  }
}
