import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/baton.js';

/**
 * Proves the benchmark harness works end to end (load generator, Baton started and stopped,
 * /proc readings, JSON and markdown out) on a ~2 s quick scenario 1. No performance assertion:
 * the numbers depend on the machine.
 */
describe('benchmark harness', () => {
  it('a quick throughput run measures direct and Baton and writes its JSON and table', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
    const out = path.join(dir, 'r.json');
    try {
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'bench/run.js'), '--quick', '--scenarios', '1', '--duration', '2s', '--configs', 'direct,baton-net', '--out', out], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
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
      const rows = results.throughput.rows as Array<{ id: string; c: number; rps: number; non2xx: number; cpuUsPerReq: number }>;
      expect(rows.map((r) => `${r.id}@${r.c}`).sort()).toEqual(['baton-net@200', 'baton-net@50', 'direct@200', 'direct@50']);
      for (const r of rows) {
        expect(r.rps, r.id).toBeGreaterThan(0);
        expect(r.non2xx, r.id).toBe(0);
        expect(Number.isFinite(r.cpuUsPerReq), r.id).toBe(true);
      }
      expect(run.stdout).toContain('| configuration | c | req/s |');
      expect(run.stdout).toContain('Load generator:');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
