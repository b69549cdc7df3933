import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/baton.js';

/**
 * Proves the benchmark harness works end to end (load generator, Baton started through its CLI
 * and stopped, a comparison proxy, /proc readings, JSON and markdown out) on a quick scenario 1:
 * two workloads (a keep-alive GET and a POST with a body) against direct, Baton and the bare
 * relay, each with the app's CPU beside the proxy's. No performance assertion: the numbers
 * depend on the machine.
 */
describe('benchmark harness', () => {
  it('a quick throughput run measures direct, Baton and the relay per workload and writes its JSON and tables', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
    const out = path.join(dir, 'r.json');
    try {
      const args = ['--quick', '--scenarios', '1', '--configs', 'direct,baton,relay', '--workloads', 'get,post-1k', '--syscalls', 'off', '--out', out];
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'bench/run.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGTERM');
          reject(new Error(`bench did not finish within 90 s\n${stderr}`));
        }, 90_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
      expect(run.code, run.stderr).toBe(0);
      const results = JSON.parse(await readFile(out, 'utf8'));
      expect(results.meta.loadGenerator).toMatch(/wrk|node/);
      expect(results.meta.node).toMatch(/^v\d+\./);
      expect(results.throughput.skipped).toEqual([]);
      const rows = results.throughput.rows as Array<{ workload: string; id: string; rps: number; non2xx: number; cpuUsPerReq: number; userUsPerReq: number; sysUsPerReq: number; appUsPerReq: number; busy: number }>;
      expect(rows.map((r) => `${r.id}@${r.workload}`).sort()).toEqual(['baton@get', 'baton@post-1k', 'direct@get', 'direct@post-1k', 'relay@get', 'relay@post-1k']);
      for (const r of rows) {
        expect(r.rps, `${r.id}@${r.workload}`).toBeGreaterThan(0);
        expect(r.non2xx, `${r.id}@${r.workload}`).toBe(0);
        expect(Number.isFinite(r.cpuUsPerReq), `${r.id}@${r.workload}`).toBe(true);
        expect(r.userUsPerReq + r.sysUsPerReq).toBeCloseTo(r.cpuUsPerReq, 6);
        // The app's CPU in the same loads: the shared upstream, or the one Baton runs (found as
        // Baton's child); 0 would mean the wrong process was read.
        expect(r.appUsPerReq, `${r.id}@${r.workload}`).toBeGreaterThan(0);
        expect(r.busy, `${r.id}@${r.workload}`).toBeGreaterThan(0);
        expect(r.busy, `${r.id}@${r.workload}`).toBeLessThan(1.5);
      }
      expect(run.stdout).toContain('| configuration | req/s | × direct |');
      expect(run.stdout).toContain('#### POST, 1 KiB body, keep-alive, c=50');
      expect(run.stdout).toContain('Load generator:');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
