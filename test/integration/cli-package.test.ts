/**
 * The package as a new user gets it (issue 15, point 2): right after `npm ci` the CLI works
 * (`prepare` builds dist/), `npx baton` runs it, and `npm start` runs the demo as `npm run demo`
 * does. Done in a copy of the repo's sources with no dist/ and no node_modules/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FIXTURE_APP, ROOT, configYaml, removeDir } from '../helpers/baton.js';

const run = promisify(execFile);
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'examples', 'config'];

describe('a fresh copy of the package', { timeout: 240_000 }, () => {
  let dir: string;
  let ci: { stdout: string; stderr: string };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'baton-fresh-'));
    for (const f of SOURCES) await cp(path.join(ROOT, f), path.join(dir, f), { recursive: true });
    // --prefer-offline: the packages are in npm's cache after the repo's own `npm ci`.
    ci = await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, timeout: 200_000, maxBuffer: 16 << 20 });
  }, 240_000);
  afterAll(() => removeDir(dir));

  it('npm ci builds dist/ (prepare), so npx baton works without a manual build', async () => {
    expect((await stat(path.join(dir, 'dist/cli.js'))).mode & 0o100).toBe(0o100);
    const r = await run('npx', ['--no-install', 'baton', '--help'], { cwd: dir });
    expect(r.stdout).toContain('Usage: baton COMMAND');
    expect(ci.stdout + ci.stderr).toContain('> tsc -p tsconfig.json');
  });

  it('npm start runs the demo command (build, then baton start)', async () => {
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(pkg.scripts.demo);
    await writeFile(path.join(dir, 'test.yaml'), configYaml({ web: { command: ['node', FIXTURE_APP] } }));
    // Its own process group (npm -> sh -> node), stopped as a whole by that group's id.
    const npm = spawn('npm', ['start', '--', '-c', 'test.yaml'], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    try {
      const deadline = Date.now() + 120_000;
      while (!/serving on http:\/\/127\.0\.0\.1:(\d+)/.test(out) && Date.now() < deadline && npm.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      const port = Number(/serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      expect(port, out).toBeGreaterThan(0);
      expect(out).toContain('node dist/cli.js start');
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    } finally {
      if (npm.exitCode === null) process.kill(-npm.pid!, 'SIGTERM');
      await exited;
    }
  });
});
