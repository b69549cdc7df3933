import type net from 'node:net';
import { MAX_HELLO_BYTES, readClientHello } from './client-hello.js';

/** Where a connection goes once its ClientHello was read (the TLS edge). */
export interface HelloRouter {
  /** `acmeTls`: the client offered `acme-tls/1` (a TLS-ALPN-01 validation). */
  route(socket: net.Socket, acmeTls: boolean): void;
}

/** Reads a connection's ClientHello (bounded in bytes and time), then routes it by ALPN. */
export class HelloPeek {
  readonly #socket: net.Socket;
  readonly #router: HelloRouter;
  readonly #timeoutMs: number;
  #buf: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(socket: net.Socket, router: HelloRouter, timeoutMs: number) {
    this.#socket = socket;
    this.#router = router;
    this.#timeoutMs = timeoutMs;
  }

  start(): void {
    this.#socket.on('data', this.#onData);
    this.#socket.on('error', this.#onError);
    this.#timer = setTimeout(this.#onError, this.#timeoutMs);
  }

  #onData = (chunk: Buffer): void => {
    const buf = (this.#buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]));
    const hello = readClientHello(buf);
    if (hello.kind === 'incomplete' && buf.length < MAX_HELLO_BYTES) return;
    this.#done();
    this.#socket.pause();
    this.#socket.unshift(buf); // node:tls reads what is buffered on the socket first
    this.#router.route(this.#socket, hello.kind === 'hello' && hello.alpn.includes('acme-tls/1'));
  };

  #onError = (): void => {
    this.#done();
    this.#socket.destroy();
  };

  #done(): void {
    clearTimeout(this.#timer);
    this.#socket.removeListener('data', this.#onData);
    this.#socket.removeListener('error', this.#onError);
  }
}
