import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Side } from '../service.js';

/** What browsers receive on /_baton/ws (see the contract). */
export interface Notice {
  type: 'deploying' | 'deployed' | 'rolled_back' | 'deploy_failed' | 'notice';
  service: string;
  version: string;
  message?: string;
}

/** The parts of a handshake request `ws` reads (method, url, lower-case headers). */
export interface NoticeRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/**
 * The browser notice hub: holds the /_baton/ws sockets of each service and pushes notices to
 * them. Reads nothing from browsers beyond control frames; limits sockets per client address.
 */
export class NoticeHub {
  readonly #wss: WebSocketServer;
  /** service -> socket -> its page's canary cookie (`canary-v2`, `stable-v2`), '' when none. */
  readonly #clients = new Map<string, Map<WebSocket, string>>();
  readonly #perAddress = new Map<string, number>();
  readonly #maxPerAddress: number;
  readonly #log: Logger;

  constructor(opts: { log: Logger; maxPerAddress?: number }) {
    this.#log = opts.log;
    this.#maxPerAddress = opts.maxPerAddress ?? 256;
    // Browsers have nothing to say here: tiny frames only, no compression state per socket.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false, clientTracking: false });
  }

  /** Accept a /_baton/ws upgrade for `service` (`req`: what `ws` reads of a request). */
  accept(req: NoticeRequest, address: string, socket: Duplex, head: Buffer, service: string, canaryCookie = ''): void {
    const count = this.#perAddress.get(address) ?? 0;
    if (count >= this.#maxPerAddress) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    this.#perAddress.set(address, count + 1);
    this.#wss.handleUpgrade(req as http.IncomingMessage, socket, head, (ws) => {
      let set = this.#clients.get(service);
      if (set === undefined) this.#clients.set(service, (set = new Map()));
      set.set(ws, canaryCookie);
      ws.on('message', ignore);
      ws.on('error', ignore);
      ws.once('close', () => {
        set.delete(ws);
        const left = (this.#perAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.#perAddress.delete(address);
        else this.#perAddress.set(address, left);
      });
    });
  }

  /**
   * Push a notice to every browser of its service, or only to those on one side of the canary
   * of version `only.canary`; returns how many it was sent to.
   */
  broadcast(notice: Notice, only?: { side: Side; canary: string }): number {
    const set = this.#clients.get(notice.service);
    if (set === undefined || set.size === 0) return 0;
    const text = JSON.stringify(notice);
    const canaryCookie = only === undefined ? '' : `canary-${only.canary}`;
    let sent = 0;
    for (const [ws, cookie] of set) {
      if (only !== undefined && (cookie === canaryCookie) !== (only.side === 'canary')) continue;
      ws.send(text);
      sent++;
    }
    this.#log.debug({ service: notice.service, type: notice.type, browsers: sent, side: only?.side }, 'notice sent');
    return sent;
  }

  /**
   * Close every socket: 1001 (going away) when Baton stops, 1012 (service restart) when it
   * hands over to a new process, so the page reconnects there at once.
   */
  close(code = 1001, reason = 'proxy stopping'): void {
    for (const set of this.#clients.values()) for (const ws of set.keys()) ws.close(code, reason);
    for (const set of this.#clients.values()) for (const ws of set.keys()) setTimeout(() => ws.terminate(), 1000).unref();
  }
}

function ignore(): void {}
