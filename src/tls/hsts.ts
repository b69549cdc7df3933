import type { BodySink, Downstream, DownstreamEvents, ResponseBody } from '../proxy/downstream.js';

/**
 * A secure request of a service with `hsts` on: its answer gains Strict-Transport-Security
 * (unless the app sent its own). Everything else passes through to the request it wraps.
 */
export class HstsDownstream implements Downstream {
  readonly #inner: Downstream;
  readonly #value: string;

  constructor(inner: Downstream, value: string) {
    this.#inner = inner;
    this.#value = value;
  }

  get method(): string {
    return this.#inner.method;
  }
  get path(): string {
    return this.#inner.path;
  }
  get authority(): string | undefined {
    return this.#inner.authority;
  }
  get headers(): readonly string[] {
    return this.#inner.headers;
  }
  get protocol(): Downstream['protocol'] {
    return this.#inner.protocol;
  }
  get secure(): boolean {
    return this.#inner.secure;
  }
  get tlsVersion(): string | undefined {
    return this.#inner.tlsVersion;
  }
  get remoteAddress(): string {
    return this.#inner.remoteAddress;
  }
  get body(): Downstream['body'] {
    return this.#inner.body;
  }
  get bodyStarted(): boolean {
    return this.#inner.bodyStarted;
  }
  get responded(): boolean {
    return this.#inner.responded;
  }

  attach(events: DownstreamEvents): void {
    this.#inner.attach(events);
  }
  readBody(sink: BodySink): void {
    this.#inner.readBody(sink);
  }
  resumeBody(): void {
    this.#inner.resumeBody();
  }

  respond(status: number, reason: string, headers: readonly string[], body: ResponseBody): void {
    let own = false;
    for (let i = 0; i < headers.length && !own; i += 2) own = headers[i]!.length === 25 && headers[i]!.toLowerCase() === 'strict-transport-security';
    this.#inner.respond(status, reason, own ? headers : [...headers, 'strict-transport-security', this.#value], body);
  }
  write(chunk: Buffer): boolean {
    return this.#inner.write(chunk);
  }
  get flushed(): boolean {
    return this.#inner.flushed;
  }
  flush(): void {
    this.#inner.flush();
  }
  end(trailers?: readonly string[]): void {
    this.#inner.end(trailers);
  }
  abort(): void {
    this.#inner.abort();
  }
  closeAfterResponse(): void {
    this.#inner.closeAfterResponse();
  }
}
