/**
 * The port allocator: the kernel may repeat a port it handed out a moment ago (it did, and two
 * replicas started together got one port); the allocator never hands out one port twice within
 * its hold, concurrent callers included.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, PortAllocator } from '../../src/runtime/free-port.js';

/** A kernel stand-in that answers from a script of ports, as a repeating kernel would. */
function scripted(ports: number[]): { pick: () => Promise<number>; calls: () => number } {
  let i = 0;
  return {
    pick: () => new Promise((resolve) => setImmediate(() => resolve(ports[Math.min(i++, ports.length - 1)]))),
    calls: () => i,
  };
}

describe('PortAllocator', () => {
  it('asks again when the kernel repeats a port it handed out, concurrent callers included', async () => {
    const kernel = scripted([40001, 40001, 40001, 40003, 40005]);
    const ports = new PortAllocator({ pick: kernel.pick });
    const got = await Promise.all([ports.next(), ports.next(), ports.next()]);
    expect(new Set(got).size).toBe(3);
    expect(got.sort()).toEqual([40001, 40003, 40005]);
    expect(kernel.calls()).toBe(5);
  });

  it('hands a port out again once its hold has passed, and forgets what it no longer holds', async () => {
    let now = 1_000;
    const ports = new PortAllocator({ pick: scripted([40001, 40001, 40001]).pick, holdMs: 500, now: () => now });
    expect(await ports.next()).toBe(40001);
    now += 501;
    expect(await ports.next()).toBe(40001);
    expect(ports.remembered).toBe(1);
  });

  it('fails naming the host when the kernel only repeats itself', async () => {
    const ports = new PortAllocator({ pick: scripted([40001]).pick });
    await ports.next('127.0.0.1');
    await expect(ports.next('127.0.0.1')).rejects.toThrow(/no free port on 127\.0\.0\.1/);
  });

  it('gives 300 distinct ports to 300 concurrent callers, each one bindable', async () => {
    const got = await Promise.all(Array.from({ length: 300 }, () => freePort()));
    expect(new Set(got).size).toBe(300);
    for (const port of got.slice(0, 20)) {
      await new Promise<void>((resolve, reject) => {
        const server = createServer().once('error', reject);
        server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve()));
      });
    }
  });
});
