import type { Duplex } from 'node:stream';
import { FrameBoundary, closeFrame } from './frames.js';
import type { TrackedSocket } from '../../upstream/upstream.js';

/** Close code 1012: "service restart" (RFC 6455 registry); clients should reconnect. */
export const CLOSE_SERVICE_RESTART = 1012;
const CLOSE_WAIT_MS = 2000;

/**
 * A proxied WebSocket: the client and upstream sockets spliced together after the handshake.
 * Upstream-to-client bytes go through a frame tracker so that, at the end of a drain grace, the
 * client gets a clean 1012 close frame between two frames. Any error destroys both sides.
 */
export class WsTunnel implements TrackedSocket {
  readonly #client: Duplex;
  readonly #upstream: Duplex;
  readonly #frames = new FrameBoundary();
  #closing: (() => void) | undefined;
  #closed: Promise<void>;
  #onClosed: () => void = () => {};

  /** `upstream`'s bytes come in through fromUpstream() (its owner reads it with `onread`); `onClosed` once both sides are gone. */
  constructor(client: Duplex, upstream: Duplex, onClosed: (tunnel: WsTunnel) => void) {
    this.#client = client;
    this.#upstream = upstream;
    this.#closed = new Promise((resolve) => {
      this.#onClosed = () => {
        resolve();
        onClosed(this);
      };
    });
    client.on('error', this.#destroyBoth);
    upstream.on('error', this.#destroyBoth);
    client.on('close', this.#clientOnClose);
    upstream.on('close', this.#upstreamOnClose);
    // A plain 'data' listener rather than pipe(): one hop less per message. The client's FIN
    // is passed on as pipe() would (its socket is half-open: node:http's server).
    client.on('data', this.#clientOnData);
    client.on('end', this.#clientOnEnd);
  }

  /** Whether Baton closed it with 1012 at the end of a drain grace (the access log's cut_by_drain). */
  get closedForRestart(): boolean {
    return this.#sent;
  }

  /** Bytes from the upstream, to the client (`chunk` is the tunnel's to keep). */
  fromUpstream(chunk: Buffer): void {
    if (!this.#sent) this.#upstreamOnData(chunk);
  }

  closeForRestart(): Promise<void> {
    if (this.#closing === undefined && !this.#client.destroyed) {
      this.#closing = () => this.#sendClose();
      if (this.#frames.atBoundary) this.#sendClose();
    }
    return this.#closed;
  }

  destroy(): void {
    this.#destroyBoth();
  }

  #upstreamOnData = (chunk: Buffer): void => {
    if (this.#closing === undefined) {
      this.#frames.feed(chunk);
      if (!this.#client.write(chunk)) {
        this.#upstream.pause();
        this.#client.once('drain', this.#clientOnDrain);
      }
      return;
    }
    // Closing: pass the rest of the frame in progress, then the close frame, then nothing.
    const end = this.#frames.untilBoundary(chunk);
    this.#client.write(end === -1 ? chunk : chunk.subarray(0, end));
    if (end !== -1) this.#sendClose();
  };

  #clientOnDrain = (): void => {
    this.#upstream.resume();
  };

  #clientOnData = (chunk: Buffer): void => {
    if (!this.#upstream.write(chunk)) {
      this.#client.pause();
      this.#upstream.once('drain', this.#upstreamOnDrain);
    }
  };

  #upstreamOnDrain = (): void => {
    this.#client.resume();
  };

  #clientOnEnd = (): void => {
    this.#upstream.end();
  };

  #sent = false;
  #sendClose(): void {
    if (this.#sent) return;
    this.#sent = true;
    this.#client.removeListener('data', this.#clientOnData);
    this.#client.removeListener('end', this.#clientOnEnd);
    this.#upstream.removeListener('drain', this.#upstreamOnDrain);
    // The old version is being stopped: its side of the socket just goes.
    this.#upstream.destroy();
    this.#client.end(closeFrame(CLOSE_SERVICE_RESTART, 'service restart'));
    // Give the client a moment to answer with its own close frame, then let go.
    const timer = setTimeout(this.#destroyBoth, CLOSE_WAIT_MS);
    timer.unref();
    this.#client.resume();
  }

  #clientOnClose = (): void => {
    this.#destroyBoth();
  };

  #upstreamOnClose = (): void => {
    // Upstream went away on its own (app closed it): end the client side too. Once we are
    // closing, the client side is ended by #sendClose instead.
    if (!this.#sent) {
      this.#client.end();
      setTimeout(this.#destroyBoth, CLOSE_WAIT_MS).unref();
    }
    this.#settleIfGone();
  };

  #destroyBoth = (): void => {
    this.#client.destroy();
    this.#upstream.destroy();
    this.#settleIfGone();
  };

  #settled = false;
  #settleIfGone(): void {
    if (this.#settled || !this.#client.destroyed || !this.#upstream.destroyed) return;
    this.#settled = true;
    this.#client.removeListener('close', this.#clientOnClose);
    this.#upstream.removeListener('close', this.#upstreamOnClose);
    this.#client.removeListener('drain', this.#clientOnDrain);
    this.#client.removeListener('data', this.#clientOnData);
    this.#client.removeListener('end', this.#clientOnEnd);
    this.#upstream.removeListener('drain', this.#upstreamOnDrain);
    this.#onClosed();
  }
}
