import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Target } from './forwarder.js';
import { WsTunnel } from './ws-tunnel.js';
import type { Upstream } from '../upstream/upstream.js';

export type UpgradeOutcome = 'open' | 'refused' | 'failed';

/**
 * Forward a WebSocket handshake to the upstream and, once it answers 101, splice the two
 * sockets into a tunnel tracked on that upstream. A non-101 answer is relayed as is; a
 * connection failure answers 502. `done` reports the outcome once.
 */
export function forwardUpgrade(
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  upstream: Target & Pick<Upstream, 'trackSocket'>,
  headers: http.OutgoingHttpHeaders,
  timeoutMs: number,
  done: (outcome: UpgradeOutcome, error?: Error) => void,
): void {
  const proxyReq = http.request({
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers,
    setHost: false,
    agent: false,
  });
  let finished = false;
  const finish = (outcome: UpgradeOutcome, error?: Error): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('error', clientOnError);
    socket.removeListener('close', clientOnClose);
    done(outcome, error);
  };
  const timer = setTimeout(() => {
    proxyReq.destroy(new Error('upstream handshake timeout'));
  }, timeoutMs);
  const clientOnError = (): void => {
    proxyReq.destroy();
  };
  const clientOnClose = (): void => {
    proxyReq.destroy();
    finish('failed', new Error('client closed during handshake'));
  };
  socket.on('error', clientOnError);
  socket.on('close', clientOnClose);

  proxyReq.on('upgrade', (pres, upSocket, upHead) => {
    socket.removeListener('close', clientOnClose);
    if (socket.destroyed) {
      upSocket.destroy();
      finish('failed', new Error('client closed during handshake'));
      return;
    }
    upSocket.setNoDelay(true);
    upSocket.setTimeout(0);
    if ('setNoDelay' in socket) (socket as import('node:net').Socket).setNoDelay(true);
    socket.write(responseHead(pres));
    if (head.length > 0) upSocket.write(head);
    let untrack = (): void => {};
    const tunnel = new WsTunnel(socket, upSocket, upHead, () => untrack());
    untrack = upstream.trackSocket(tunnel);
    finish('open');
  });

  proxyReq.on('response', (pres) => {
    // The app declined the upgrade (404, 401...): relay its answer and close.
    socket.write(responseHead(pres));
    pres.pipe(socket);
    finish('refused');
  });

  proxyReq.on('error', (err) => {
    if (finished) return;
    if (!socket.destroyed) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 41\r\nconnection: close\r\n\r\n502 The application could not be reached\n');
    }
    finish('failed', err);
  });
  proxyReq.end();
}

function responseHead(res: http.IncomingMessage): string {
  let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return head + '\r\n';
}
