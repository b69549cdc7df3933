import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configYaml, events, removeDir, startBaton, type RunningBaton, dispose } from '../helpers/baton.js';
import { rawExchange } from '../helpers/raw.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

/** A WebSocket client that queues messages so none is missed between awaits. */
function open(url: string): Promise<{ ws: WebSocket; next(): Promise<Record<string, unknown>>; closed: Promise<{ code: number; at: number }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const queue: Array<Record<string, unknown>> = [];
    const waiters: Array<(m: Record<string, unknown>) => void> = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      const w = waiters.shift();
      if (w !== undefined) w(m);
      else queue.push(m);
    });
    const closed = new Promise<{ code: number; at: number }>((r) => ws.on('close', (code) => r({ code, at: Date.now() })));
    ws.on('open', () =>
      resolve({
        ws,
        closed,
        next: () =>
          new Promise((r, j) => {
            if (queue.length > 0) return r(queue.shift()!);
            const timer = setTimeout(() => j(new Error('no message within 5 s')), 5000);
            waiters.push((m) => {
              clearTimeout(timer);
              r(m);
            });
          }),
      }),
    );
    ws.on('error', reject);
  });
}

describe('websocket hand-over', () => {
  it('an old WebSocket keeps echoing during the grace, then is closed with 1012, and a new one lands on the new version', async () => {
    baton = await startBaton(configYaml({ web: { extra: 'drain:\n  timeout: 5s\n  websocket_grace: 1500ms' } }));
    const wsUrl = baton.url.replace('http', 'ws') + '/ws';
    const old = await open(wsUrl);
    expect(await old.next()).toEqual({ hello: 'v1' });

    const deploy = baton.cli('deploy', 'web', 'v2', '--json');
    // Wait until the switch happened: new connections go to v2.
    let probe;
    for (;;) {
      probe = await open(wsUrl);
      const hello = await probe.next();
      probe.ws.close();
      if (hello.hello === 'v2') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const switchedAt = Date.now();
    old.ws.send('still there?');
    expect(await old.next()).toEqual({ version: 'v1', echo: 'still there?' });

    const { code, at } = await old.closed;
    expect(code).toBe(1012);
    expect(at - switchedAt).toBeGreaterThan(1000);
    const r = await deploy;
    expect(r.code).toBe(0);
    expect(events(r.stdout).find((e) => e.step === 'drain')).toMatchObject({ websockets_closed: 1 });

    const again = await open(wsUrl);
    expect(await again.next()).toEqual({ hello: 'v2' });
    again.ws.close();
  });

  it('messages of every frame-length class pass through the tunnel intact', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const c = await open(baton.url.replace('http', 'ws') + '/ws');
    await c.next();
    for (const size of [0, 125, 126, 65535, 65536]) {
      const text = 'x'.repeat(size);
      c.ws.send(text);
      const m = await c.next();
      expect((m.echo as string).length).toBe(size);
    }
    c.ws.close();
  });

  it('a client that drops its connection without a close frame frees both sides', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const wsUrl = baton.url.replace('http', 'ws') + '/ws';
    const sockets = await Promise.all(Array.from({ length: 5 }, () => open(wsUrl)));
    for (const s of sockets) await s.next();
    const websockets = async (): Promise<number> => JSON.parse((await baton!.cli('status', '--json')).stdout).services.web.websockets;
    expect(await websockets()).toBe(5);
    // terminate(): the TCP connection ends (FIN) with no WebSocket close frame.
    for (const s of sockets) s.ws.terminate();
    const deadline = Date.now() + 5000;
    while ((await websockets()) !== 0) {
      if (Date.now() > deadline) throw new Error(`still ${await websockets()} tunnels 5 s after the clients left`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('the notice socket gets deploying and deployed for its service', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const n = await open(baton.url.replace('http', 'ws') + '/_baton/ws');
    expect((await baton.cli('deploy', 'web', 'v2')).code).toBe(0);
    expect(await n.next()).toEqual({ type: 'deploying', service: 'web', version: 'v2' });
    expect(await n.next()).toEqual({ type: 'deployed', service: 'web', version: 'v2' });
    const sent = await baton.cli('notify', 'web', 'Maintenance at 5pm');
    expect(sent.stdout).toContain('1 browser');
    expect(await n.next()).toMatchObject({ type: 'notice', service: 'web', message: 'Maintenance at 5pm' });
    n.ws.close();
  });
});

/**
 * The upgrade handshake itself, against an app that answers it by hand: a refusal is relayed as
 * the app sent it, an app that never answers gets 502, and bytes the app sends right behind its
 * 101 reach the client.
 */
const HANDSHAKE_APP = String.raw`
import http from 'node:http';
import { createHash } from 'node:crypto';
const server = http.createServer((req, res) => res.end('ok'));
server.on('upgrade', (req, socket) => {
  switch (req.url) {
    case '/deny':
      return socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\ndenied\n');
    case '/deny-chunked':
      socket.write('HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
      return setTimeout(() => socket.write('6\r\n world\r\n0\r\n\r\n'), 50);
    case '/hang':
      return;
    case '/hello': {
      const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      // The 101 and a first text frame ("hi") in one write.
      return socket.write(Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ' + accept + '\r\n\r\n'), Buffer.from([0x81, 0x02, 0x68, 0x69])]));
    }
  }
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

describe('websocket handshake', () => {
  let dir: string;
  let app: RunningBaton;
  const upgrade = (path: string): string =>
    `GET ${path} HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'baton-ws-'));
    await writeFile(path.join(dir, 'app.mjs'), HANDSHAKE_APP);
    app = await startBaton(configYaml({ web: { command: ['node', path.join(dir, 'app.mjs')] } }, 'limits:\n  upstream_headers_timeout: 1s\n'), { dir });
  });
  afterAll(async () => {
    await app.stop();
    await removeDir(dir);
  });

  it("relays the app's refusal as it came, then closes", async () => {
    const r = await rawExchange(app.port, [upgrade('/deny')]);
    expect(r.closed).toBe(true);
    expect(r.reply).toBe('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\ndenied\n');
  });

  it('relays a chunked refusal byte for byte, to its last chunk', async () => {
    const r = await rawExchange(app.port, [upgrade('/deny-chunked')]);
    expect(r.closed).toBe(true);
    expect(r.reply).toBe('HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  });

  it('answers 502 when the app does not answer the handshake within upstream_headers_timeout', async () => {
    const r = await rawExchange(app.port, [upgrade('/hang')]);
    expect(r.closed).toBe(true);
    expect(r.reply).toMatch(/^HTTP\/1\.1 502 /);
    expect(r.ms).toBeGreaterThan(900);
    expect(r.ms).toBeLessThan(3000);
  });

  it('passes on the bytes the app sends right behind its 101', async () => {
    const ws = new WebSocket(app.url.replace('http', 'ws') + '/hello');
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    ws.terminate();
    expect(first).toBe('hi');
  });
});
