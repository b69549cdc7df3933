import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { describe, it, expect } from 'vitest';
import * as wsLib from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { FrameBoundary, closeFrame } from '../../src/proxy/websocket/frames.js';

/** ws's frame parser; exported by the package but absent from @types/ws. */
const { Receiver } = wsLib as unknown as {
  Receiver: new (opts?: { isServer?: boolean }) => Writable;
};

/**
 * One real RFC 6455 frame with an n-byte payload, length encoded in the fewest bytes (7-bit,
 * 16-bit after 126, 64-bit after 127) and, when masked, the payload XORed with the key. The
 * payload bytes look like frame headers (0x82 0xff ...) so that a tracker reading them as
 * headers goes astray.
 */
function frame(n: number, opts: { mask?: boolean; opcode?: number; fin?: boolean } = {}): Buffer {
  const mask = opts.mask ?? false;
  const ext = n > 0xffff ? 8 : n > 125 ? 2 : 0;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | (opts.opcode ?? 0x2);
  head[1] = (mask ? 0x80 : 0) | (ext === 8 ? 127 : ext === 2 ? 126 : n);
  if (ext === 2) head.writeUInt16BE(n, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(n), 2);
  const payload = Buffer.alloc(n);
  for (let i = 0; i < n; i++) payload[i] = i % 2 === 0 ? 0x82 : 0xff;
  if (mask) {
    const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    key.copy(head, 2 + ext);
    for (let i = 0; i < n; i++) payload[i]! ^= key[i % 4]!;
  }
  return Buffer.concat([head, payload]);
}

const KINDS: Array<[string, Buffer, number]> = [
  ['zero-length unmasked', frame(0), 0],
  ['zero-length masked', frame(0, { mask: true }), 0],
  ['7-bit length unmasked', frame(5), 5],
  ['7-bit length 125 masked', frame(125, { mask: true }), 125],
  ['16-bit length 126 unmasked', frame(126), 126],
  ['16-bit length 65535 masked', frame(65535, { mask: true }), 65535],
  ['64-bit length 65536 unmasked', frame(65536), 65536],
  ['64-bit length 70000 masked', frame(70000, { mask: true }), 70000],
];

describe('frame() test helper', () => {
  it('builds frames that ws itself parses', async () => {
    // Guards the helper: the tracker tests below mean nothing if these frames are not real.
    for (const [, bytes, size] of KINDS) {
      const masked = (bytes[1]! & 0x80) !== 0;
      const receiver = new Receiver({ isServer: masked });
      const got = new Promise<number>((resolve, reject) => {
        receiver.on('message', (data: Buffer) => resolve(data.length));
        receiver.on('error', reject);
      });
      receiver.write(bytes);
      expect(await got).toBe(size);
    }
  });
});

describe('FrameBoundary', () => {
  it('is at a boundary before any byte', () => {
    expect(new FrameBoundary().atBoundary).toBe(true);
  });

  it.each(KINDS)('fed a %s frame byte by byte, is at a boundary only after its last byte', (_name, bytes) => {
    const tracker = new FrameBoundary();
    let wrong = -1;
    for (let i = 0; i < bytes.length; i++) {
      tracker.feed(bytes.subarray(i, i + 1));
      const last = i === bytes.length - 1;
      if (tracker.atBoundary !== last && wrong === -1) wrong = i;
    }
    expect(wrong).toBe(-1);
    expect(tracker.atBoundary).toBe(true);
  });

  it.each(KINDS)('fed a whole %s frame in one chunk, is at a boundary; one byte short, it is not', (_name, bytes) => {
    const short = new FrameBoundary();
    short.feed(bytes.subarray(0, bytes.length - 1));
    expect(short.atBoundary).toBe(false);
    const whole = new FrameBoundary();
    whole.feed(bytes);
    expect(whole.atBoundary).toBe(true);
  });

  it('fed all kinds concatenated in one chunk, ends at a boundary', () => {
    const tracker = new FrameBoundary();
    tracker.feed(Buffer.concat(KINDS.map(([, b]) => b)));
    expect(tracker.atBoundary).toBe(true);
  });

  it('in a stream of concatenated frames, is at a boundary exactly at each frame end', () => {
    const frames = KINDS.map(([, b]) => b);
    const all = Buffer.concat(frames);
    const ends = new Set<number>();
    let at = 0;
    for (const f of frames) ends.add((at += f.length));
    // Cut the stream at every frame end and at points inside headers and payloads around it.
    const cuts = new Set<number>();
    for (const end of [0, ...ends]) for (const d of [-3, -1, 1, 2, 3, 5, 11]) cuts.add(end + d);
    for (const cut of [...cuts].filter((c) => c > 0 && c < all.length).sort((a, b) => a - b)) {
      const tracker = new FrameBoundary();
      tracker.feed(all.subarray(0, cut));
      expect({ cut, atBoundary: tracker.atBoundary }).toEqual({ cut, atBoundary: ends.has(cut) });
      tracker.feed(all.subarray(cut));
      expect(tracker.atBoundary).toBe(true);
    }
  });

  it('a frame split inside its 64-bit length is followed correctly', () => {
    const f = frame(70000, { mask: true });
    const tracker = new FrameBoundary();
    tracker.feed(f.subarray(0, 5)); // 2-byte head + 3 of the 8 length bytes
    tracker.feed(f.subarray(5, 12)); // rest of the length + 2 of the mask key
    expect(tracker.atBoundary).toBe(false);
    tracker.feed(f.subarray(12, f.length - 1));
    expect(tracker.atBoundary).toBe(false);
    tracker.feed(f.subarray(f.length - 1));
    expect(tracker.atBoundary).toBe(true);
  });
});

describe('FrameBoundary.untilBoundary', () => {
  it('returns its start offset when already at a boundary, consuming nothing', () => {
    const tracker = new FrameBoundary();
    const next = frame(10);
    expect(tracker.untilBoundary(next, 0)).toBe(0);
    expect(tracker.untilBoundary(next, 4)).toBe(4);
    // Nothing of `next` was consumed: all of it is still a frame to follow.
    tracker.feed(next.subarray(0, next.length - 1));
    expect(tracker.atBoundary).toBe(false);
  });

  it('returns the offset just past the frame in progress when it ends mid-chunk', () => {
    const a = frame(300);
    const b = frame(20);
    const tracker = new FrameBoundary();
    tracker.feed(a.subarray(0, 100)); // header and part of the payload
    const chunk = Buffer.concat([a.subarray(100), b]);
    expect(tracker.untilBoundary(chunk)).toBe(a.length - 100);
    expect(tracker.atBoundary).toBe(true);
  });

  it('does not consume the frame after the boundary it stops at', () => {
    const a = frame(300);
    const b = frame(20);
    const tracker = new FrameBoundary();
    tracker.feed(a.subarray(0, 100));
    const chunk = Buffer.concat([a.subarray(100), b]);
    const end = tracker.untilBoundary(chunk);
    tracker.feed(chunk.subarray(end, chunk.length - 1));
    expect(tracker.atBoundary).toBe(false);
    tracker.feed(chunk.subarray(chunk.length - 1));
    expect(tracker.atBoundary).toBe(true);
  });

  it('finishes a header split across chunks and returns the end of that frame', () => {
    const a = frame(1000, { mask: true }); // 2 + 2 + 4 bytes of header
    const b = frame(3);
    const tracker = new FrameBoundary();
    tracker.feed(a.subarray(0, 3)); // stops inside the 16-bit length
    expect(tracker.atBoundary).toBe(false);
    const chunk = Buffer.concat([a.subarray(3), b]);
    expect(tracker.untilBoundary(chunk)).toBe(a.length - 3);
  });

  it('counts the returned offset from the start of the chunk when starting at an offset', () => {
    const a = frame(200);
    const tracker = new FrameBoundary();
    tracker.feed(a.subarray(0, 50));
    const chunk = Buffer.concat([Buffer.from('junk'), a.subarray(50), frame(1)]);
    expect(tracker.untilBoundary(chunk, 4)).toBe(4 + a.length - 50);
  });

  it('returns -1 when the frame in progress does not end in the chunk, having consumed it', () => {
    const a = frame(500);
    const tracker = new FrameBoundary();
    tracker.feed(a.subarray(0, 10));
    expect(tracker.untilBoundary(a.subarray(10, 300))).toBe(-1);
    expect(tracker.atBoundary).toBe(false);
    // The 290 bytes were consumed: the rest of the frame ends exactly at the end of the next chunk.
    expect(tracker.untilBoundary(a.subarray(300))).toBe(a.length - 300);
  });

  it('returns -1 when the chunk ends inside the header of the frame in progress', () => {
    const a = frame(70000);
    const tracker = new FrameBoundary();
    tracker.feed(a.subarray(0, 1));
    expect(tracker.untilBoundary(a.subarray(1, 6))).toBe(-1);
    expect(tracker.untilBoundary(a.subarray(6))).toBe(a.length - 6);
  });

  it('a zero-length frame whose header completes in the chunk ends right after the header', () => {
    const a = frame(0, { mask: true }); // 6 bytes, no payload
    const tracker = new FrameBoundary();
    tracker.feed(a.subarray(0, 2));
    const chunk = Buffer.concat([a.subarray(2), frame(9)]);
    expect(tracker.untilBoundary(chunk)).toBe(4);
  });
});

/** Decode one server-to-client frame with ws's own parser. */
function decodeClose(bytes: Buffer): Promise<{ code: number; reason: string }> {
  const receiver = new Receiver({ isServer: false });
  return new Promise((resolve, reject) => {
    receiver.on('conclude', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') }));
    receiver.on('error', reject);
    receiver.write(bytes);
  });
}

describe('closeFrame', () => {
  it('decodes with ws to code 1012 and reason "service restart"', async () => {
    expect(await decodeClose(closeFrame(1012, 'service restart'))).toEqual({ code: 1012, reason: 'service restart' });
  });

  it('is one whole unmasked frame to a tracker', () => {
    const f = closeFrame(1012, 'service restart');
    expect(f[1]! & 0x80).toBe(0);
    const tracker = new FrameBoundary();
    tracker.feed(f.subarray(0, f.length - 1));
    expect(tracker.atBoundary).toBe(false);
    tracker.feed(f.subarray(f.length - 1));
    expect(tracker.atBoundary).toBe(true);
  });

  it('a long reason is shortened so the frame stays a valid control frame', async () => {
    const { code, reason } = await decodeClose(closeFrame(1001, 'x'.repeat(300)));
    expect(code).toBe(1001);
    expect(reason.length).toBeGreaterThan(0);
    expect('x'.repeat(300).startsWith(reason)).toBe(true);
  });

  it('a long non-ASCII reason is shortened so the frame stays a valid control frame', async () => {
    // RFC 6455 5.5: a control frame's payload is at most 125 bytes. 100 characters of 'é' are
    // 200 UTF-8 bytes.
    const f = closeFrame(1001, 'é'.repeat(100));
    expect(f.length - 2).toBeLessThanOrEqual(125);
    const { code, reason } = await decodeClose(f);
    expect(code).toBe(1001);
    expect('é'.repeat(100).startsWith(reason)).toBe(true);
  });
});

describe('FrameBoundary on a real ws connection through a TCP relay', () => {
  it('is at a boundary each time a whole message has arrived, in both directions', async () => {
    const sizes = [0, 125, 126, 65535, 65536, 200_000];
    const down = new FrameBoundary(); // server -> client, unmasked
    const up = new FrameBoundary(); // client -> server, masked
    const downChunkStates: boolean[] = [];

    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    const wssPort = (wss.address() as AddressInfo).port;

    // A plain byte relay; after the 101 response, server->client bytes go through `down`.
    const relaySockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(wssPort, '127.0.0.1');
      relaySockets.add(client).add(upstream);
      let handshake: Buffer | undefined = Buffer.alloc(0);
      client.on('data', (chunk: Buffer) => {
        if (handshake === undefined) up.feed(chunk);
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (handshake !== undefined) {
          handshake = Buffer.concat([handshake, chunk]);
          const end = handshake.indexOf('\r\n\r\n');
          if (end === -1) return;
          client.write(handshake.subarray(0, end + 4));
          chunk = handshake.subarray(end + 4);
          handshake = undefined;
          if (chunk.length === 0) return;
        }
        down.feed(chunk);
        downChunkStates.push(down.atBoundary);
        client.write(chunk);
      });
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as AddressInfo).port;

    // The server sends each size in turn; the client echoes it back; the server sends the next.
    const atClient: Array<[number, boolean]> = [];
    const atServer: Array<[number, boolean]> = [];
    const done = new Promise<void>((resolve, reject) => {
      wss.on('connection', (sock) => {
        let i = 0;
        sock.on('message', (data: Buffer) => {
          atServer.push([data.length, up.atBoundary]);
          if (++i < sizes.length) sock.send(Buffer.alloc(sizes[i]!, 0x81));
          else resolve();
        });
        sock.on('error', reject);
        sock.send(Buffer.alloc(sizes[0]!, 0x81));
      });
    });
    const ws = new WebSocket(`ws://127.0.0.1:${relayPort}/`);
    ws.on('message', (data: Buffer) => {
      atClient.push([data.length, down.atBoundary]);
      ws.send(data);
    });
    const clientError = new Promise<never>((_, reject) => ws.on('error', reject));

    try {
      await Promise.race([done, clientError]);
      expect(atClient).toEqual(sizes.map((n) => [n, true]));
      expect(atServer).toEqual(sizes.map((n) => [n, true]));
      // The large messages arrived in several TCP reads: the tracker was seen mid-frame.
      expect(downChunkStates).toContain(false);
    } finally {
      ws.terminate();
      for (const s of relaySockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
