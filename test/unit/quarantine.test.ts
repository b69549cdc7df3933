/**
 * The upstream quarantine (issue 17): a connection released after its answer goes back to the
 * pool only once a poll for reads has passed, so bytes the app wrote past its answer are read
 * (and discard the connection) before it could carry the next request. Real sockets: the bytes
 * are in the kernel when the connection is released, and must be seen before it is released.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Quarantine } from '../../src/upstream/quarantine.js';

let server: net.Server | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A connected pair on loopback: [client, the server's end]. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const accepted = new Promise<net.Socket>((resolve) => {
    server = net.createServer((s) => resolve(s));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  const client = net.connect((server!.address() as net.AddressInfo).port, '127.0.0.1');
  const app = await accepted;
  sockets.push(client, app);
  await new Promise((resolve) => (client.readyState === 'open' ? resolve(undefined) : client.once('connect', resolve)));
  return [client, app];
}

describe('Quarantine', () => {
  it('releases only after the bytes an app wrote past its answer have been read', async () => {
    const [client, app] = await pair();
    const quarantine = new Quarantine();
    const events: string[] = [];
    const released = new Promise<void>((resolve) => {
      let first = true;
      client.on('data', (d: Buffer) => {
        events.push(`read ${d.toString()}`);
        if (!first) return;
        first = false;
        // The answer is in: release, while the app writes more at once (in the kernel before the next poll).
        quarantine.add({ releaseNow: () => (events.push('released'), resolve()) });
        app.write('junk');
      });
    });
    app.write('answer');
    await released;
    expect(events).toEqual(['read answer', 'read junk', 'released']);
  });

  it('releases every connection of a turn together, and one added from an immediate a turn later still after a poll', async () => {
    const quarantine = new Quarantine();
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      let left = 3;
      const done = (name: string) => () => {
        order.push(name);
        if (--left === 0) resolve();
      };
      quarantine.add({ releaseNow: done('a') });
      quarantine.add({ releaseNow: done('b') });
      setImmediate(() => quarantine.add({ releaseNow: done('c') }));
    });
    expect(order).toEqual(['a', 'b', 'c']);
  });
});
