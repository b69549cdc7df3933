/**
 * Vitest global setup: the Docker suites (test/docker/) need a local Node base image and the
 * test app images. When a run includes them and an engine answers, build what is missing
 * (test/docker/images/base.sh, then build.sh and migrations.sh: seconds when everything is
 * there), so that `npm ci && npm test` passes on any machine with a Docker engine. With no
 * engine, say why the suites will skip (outside CI) or fail (under CI=true, where nothing may
 * skip).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Dockerode from 'dockerode';
import type { TestProject } from 'vitest/node';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type Decision = { action: 'build' } | { action: 'skip'; reason: string } | { action: 'none' };

/** What to do, from what the run holds and what answers. Pure. */
export function decide(opts: { dockerSuites: boolean; engine: boolean; dockerCli: boolean; ci: boolean; dockerHost?: string }): Decision {
  if (!opts.dockerSuites) return { action: 'none' };
  if (!opts.engine) {
    return opts.ci
      ? { action: 'skip', reason: 'CI=true but no Docker engine answered: the Docker suites will fail (.ci/run starts one with .ci/docker-up.sh)' }
      : { action: 'skip', reason: `no Docker engine answered${opts.dockerHost ? ` at DOCKER_HOST=${opts.dockerHost}` : ''}: the Docker suites are skipped (start one, or run .ci/docker-up.sh as root)` };
  }
  if (!opts.dockerCli) return { action: 'skip', reason: 'a Docker engine answers but the docker command is missing: the test images cannot be built' };
  return { action: 'build' };
}

/** Whether any of the run's test files is a Docker suite. */
export function hasDockerSuites(files: readonly string[], root = ROOT): boolean {
  const dir = path.join(root, 'test/docker') + path.sep;
  return files.some((f) => path.resolve(f).startsWith(dir));
}

export default async function setup(project: TestProject): Promise<void> {
  // The file filters of `vitest run FILTER...` (kept on the Vitest instance, not in its config).
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
  const { testFiles } = await project.globTestFiles(filters);
  const dockerSuites = hasDockerSuites(testFiles);
  const engine =
    dockerSuites &&
    (await new Dockerode().ping({ abortSignal: AbortSignal.timeout(3_000) }).then(
      () => true,
      () => false,
    ));
  const dockerCli = engine && (await exits0('docker', ['version', '--format', '{{.Client.Version}}']));
  const decision = decide({ dockerSuites, engine, dockerCli, ci: process.env.CI === 'true', dockerHost: process.env.DOCKER_HOST });
  if (decision.action === 'skip') console.warn(`[docker images] ${decision.reason}`);
  if (decision.action !== 'build') return;
  const began = performance.now();
  for (const script of ['base.sh', 'build.sh', 'migrations.sh']) {
    const r = await runScript(path.join(ROOT, 'test/docker/images', script));
    if (r.code !== 0) throw new Error(`test/docker/images/${script} failed (exit ${r.code}); the Docker suites need its images:\n${r.output}`);
    const summary = r.output.trim().split('\n').filter((l) => /^(base\.sh|build\.sh|migrations\.sh|node24):/.test(l));
    if (summary.length > 0) console.log(summary.map((l) => `[docker images] ${l}`).join('\n'));
  }
  console.log(`[docker images] ready in ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

function runScript(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', (err) => resolve({ code: null, output: output + String(err) }));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

function exits0(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}
