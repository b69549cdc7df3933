import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers/baton.js';

// The short form of bench/soak.js (which runs 5 minutes by default): 30 s, c=200, a swap every 10 s.
describe('soak (short form)', () => {
  it('200 keep-alive clients through 30 s of swaps every 10 s: no failed request, no leaked descriptor, live heap flat', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bench/soak.js'), '--duration', '30s', '--clients', '200', '--swap-every', '10s', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (c) => (text += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('exit', () => {
        clearTimeout(timer);
        resolve(text);
      });
      child.on('error', reject);
    });
    const report = JSON.parse(out.trim().split('\n').at(-1)!);
    console.log(`[soak] ${JSON.stringify(report)}`);
    expect(report.failures).toBe(0);
    expect(report.swaps).toBeGreaterThanOrEqual(2);
    expect(report.swap_failures).toBe(0);
    expect(report.requests).toBeGreaterThan(1000);
    expect(report.end.fds - report.start.fds).toBeLessThanOrEqual(4);
    // The leak signal is the live heap after a full collection, not RSS (V8 sizes its heap to
    // the allocation rate and keeps it).
    expect(report.loaded.live_heap_mb).toBeLessThanOrEqual(report.warm.live_heap_mb * 1.25 + 8);
    expect(report.ok).toBe(true);
  }, 120_000);
});
