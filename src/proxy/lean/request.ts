import type { Socket } from 'node:net';
import type { LeanHead } from './head.js';

/**
 * A lean request: its head, parsed, and nothing else (it has no body by construction). It
 * offers the members of node:http's IncomingMessage that the proxy and the net forwarder read.
 */
export class LeanRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  readonly socket: Socket;
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly complete = true;

  constructor(head: LeanHead, socket: Socket) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
    this.socket = socket;
  }

  /** There is no body to discard. */
  resume(): this {
    return this;
  }
}
