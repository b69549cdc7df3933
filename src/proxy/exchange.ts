/**
 * One request through Baton, from the moment it is routed to its last byte: the only record
 * of it. It owns the hold wait, the attempts and the retry rule, the error pages, the drain
 * cut and event-stream detection, script injection, and what is reported when it ends
 * (metrics, access log). It stands between a Downstream (the client side: downstream.ts) and
 * the transport (upstream/transport.ts), and implements both their callback contracts.
 */
import type { BodyFraming, ResponseHead } from '../http1/types.js';
import type { Service, Side } from '../service.js';
import type { Upstream } from '../upstream/upstream.js';
import type { CutReason, InFlight, InFlightList } from '../upstream/in-flight.js';
import type { RequestController, ResponseHandler, TransportError } from '../upstream/transport.js';
import type { HoldOutcome, Waiter } from '../swap/gate.js';
import type { BodyError, BodySink, Downstream, DownstreamEvents, ResponseBody } from './downstream.js';
import type { DeadlineEntry, DeadlineList } from './deadlines.js';
import type { ExchangeContext } from './request-path.js';
import { downstreamHeaders, fieldValue, lastFieldValue, upstreamHeaders } from './headers.js';
import { clientAddress } from './client-address.js';
import { sendError, type ProxyErrorKind } from './error-pages.js';
import { injection, type ScriptInjector } from './inject.js';
import { sendMaintenance } from './maintenance.js';
import { pathOf, stripPrefix } from './router.js';
import { chooseSide } from './canary.js';
import { NEXT, type ExchangeRecord, type ExchangeState, type Outcome } from './exchange-state.js';

export type { ExchangeRecord, ExchangeState, Outcome } from './exchange-state.js';

/** Methods a request may be sent again for after a reset on a reused connection (RFC 9110 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Attempts at most: the first, and one retry. */
const MAX_ATTEMPTS = 2;

export class Exchange implements ResponseHandler, BodySink, DownstreamEvents, InFlight, Waiter, DeadlineEntry, ExchangeRecord {
  readonly #ctx: ExchangeContext;
  readonly downstream: Downstream;
  readonly #service: Service;
  readonly requestId: string;
  readonly startedAt = performance.now();
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
  // InFlight: the upstream's list of what is in flight on it.
  inFlightPrev: InFlight | undefined = undefined;
  inFlightNext: InFlight | undefined = undefined;
  inFlightList: InFlightList | undefined = undefined;

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
  #dispatchedAt = 0;
  #ticket: { withdraw(): void } | undefined;
  #injector: ScriptInjector | undefined;
  #side: Side = 'stable';
  #setCookie: string | undefined;

  /** `route`: the authority the request was routed on, and the path prefix that matched. */
  constructor(ctx: ExchangeContext, downstream: Downstream, service: Service, route: { authority: string; prefix: string }) {
    this.#ctx = ctx;
    this.downstream = downstream;
    this.#service = service;
    this.method = downstream.method;
    const strip = service.config.stripPrefix && route.prefix !== '/';
    this.path = strip ? stripPrefix(route.prefix, downstream.path) : downstream.path;
    this.body = downstream.body;
    this.requestId = ctx.ids.of(downstream.headers);
    const remoteAddress = downstream.remoteAddress;
    this.outgoingHeaders = upstreamHeaders(downstream.headers, {
      remoteAddress,
      trusted: ctx.trusted.has(remoteAddress),
      proto: downstream.secure ? 'https' : 'http',
      authority: route.authority,
      requestId: this.requestId,
      underscores: ctx.limits.underscoresInHeaders,
      trace: ctx.trace,
    });
    if (strip) this.outgoingHeaders.push('x-forwarded-prefix', route.prefix);
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
    if (maintenance !== undefined && !this.#isHealthCheck()) {
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
    if (gate.open) return this.#dispatch(undefined);
    // Held. The health path still answers, so an outer load balancer keeps Baton in.
    if (this.#isHealthCheck()) return this.#answerHealthyWhileHeld();
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

  #dispatch(avoid: Upstream | undefined): void {
    if (this.state === 'done') return;
    const upstream = this.#service.pick(avoid, this.#side);
    // Instances, but none in the rotation (all down or failing): the app cannot be reached.
    if (upstream === undefined) return this.#answer(this.#service.hasRelease(this.#side) ? 'bad_gateway' : 'no_upstream');
    this.#to('waiting');
    this.upstream = upstream;
    this.attempts++;
    upstream.track(this);
    this.#dispatchedAt = performance.now();
    this.#ctx.deadlines.add(this, this.#ctx.limits.upstreamHeadersTimeoutMs);
    this.#ctx.transport.dispatch(upstream, this, this);
  }

  /**
   * The retry rule, in one place: what cannot have reached the app is sent again (a refused
   * connection, or one reset before the request went out), and a bodiless idempotent request
   * reset before any answer (on a reused connection: the keep-alive race; or with another
   * instance to go to). Once, and never after a body byte was read or an answer began.
   */
  #retryable(err: TransportError, others: boolean): boolean {
    if (this.attempts >= MAX_ATTEMPTS || this.downstream.bodyStarted || this.downstream.responded) return false;
    if (err.kind === 'refused') return true;
    if (err.kind !== 'reset') return false;
    return !err.requestSent || (this.body.kind === 'none' && IDEMPOTENT.has(this.method) && (err.reused || others));
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
    this.firstByteMs = performance.now() - this.#dispatchedAt;
    this.upstream!.served();
    let headers = downstreamHeaders(head.headers, this.requestId);
    let body: ResponseBody;
    switch (head.body.kind) {
      case 'none': {
        // An answer to HEAD, or a 304, announces the length of the body it does not carry.
        const declared = this.method === 'HEAD' || head.status === 304 ? Number(fieldValue(head.headers, 'content-length') ?? Number.NaN) : Number.NaN;
        body = Number.isSafeInteger(declared) ? { kind: 'none', length: declared } : { kind: 'none' };
        break;
      }
      case 'length':
        body = { kind: 'length', length: head.body.length };
        break;
      default:
        body = { kind: 'stream', codings: head.body.codings };
    }
    if (this.#service.config.notify.inject && body.kind !== 'none') {
      const rewrite = injection(this.method, head.status, headers);
      if (rewrite !== undefined) {
        headers = rewrite.headers;
        this.#injector = rewrite.injector;
        body = { kind: 'stream', codings: [] };
      }
    }
    this.status = head.status;
    if (this.#setCookie !== undefined) headers.push('set-cookie', this.#setCookie);
    this.downstream.respond(head.status, head.reason, headers, body);
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
    const upstream = this.upstream!;
    const release = this.#service.releaseOf(upstream);
    const others = release !== undefined && release.available > (upstream.available ? 1 : 0);
    // Passive health: an instance that refuses or resets before answering leaves the rotation
    // for a while, unless it is the last one in it (then it is all there is to try).
    if (this.state === 'waiting' && others && (err.kind === 'refused' || err.kind === 'reset')) {
      const ms = upstream.eject();
      this.#ctx.log.warn({ service: this.service, version: upstream.version, upstream: upstream.address, kind: err.kind, ejected_ms: ms }, 'instance ejected');
    }
    if (this.state === 'waiting' && this.#retryable(err, others)) {
      upstream.untrack(this);
      this.#ctx.observer.upstreamError?.(this.service, 'retry');
      this.#ctx.log.debug({ service: this.service, request_id: this.requestId, err: err.message }, 'request retried');
      return this.#dispatch(upstream);
    }
    this.#ctx.observer.upstreamError?.(this.service, err.kind);
    this.#ctx.log.warn(
      { service: this.service, request_id: this.requestId, kind: err.kind, version: upstream.version, upstream: upstream.address, err: err.message },
      'upstream request failed',
    );
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

  #isHealthCheck(): boolean {
    return (this.method === 'GET' || this.method === 'HEAD') && pathOf(this.downstream.path) === this.#service.config.health.path;
  }

  #answerHealthyWhileHeld(): void {
    this.status = 200;
    this.downstream.respond(200, 'OK', ['content-type', 'text/plain', 'x-baton-held', '1'], { kind: 'length', length: 3 });
    if (this.method !== 'HEAD') this.downstream.write(HEALTHY);
    this.downstream.end();
    this.#finish('ok');
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

const HEALTHY = Buffer.from('ok\n');
