/**
 * A free TCP port, found by letting the kernel pick one (listen on port 0) and closing at once.
 * The port is free when this resolves, not reserved: the caller hands it to the app right away.
 */

import { createServer } from 'node:net';

/** Resolves with a port that nothing listened on at `host` a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error(`listening on ${host}:0 gave no port`));
      });
    });
  });
}
