import { afterEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { configYaml, dispose, ROOT, startBaton, type RunningBaton } from '../helpers/baton.js';

/**
 * The failing deploys of the README's tour (issue 15, points 9 and 12), on the bundled demo app
 * through the real CLI: a version that crashes on start and one that never gets healthy.
 */
const DEMO = path.join(ROOT, 'examples/demo/server.js');

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

async function activeVersion(b: RunningBaton): Promise<string> {
  return ((await (await fetch(`${b.url}/version`)).json()) as { version: string }).version;
}

describe('the demo app fails on purpose', () => {
  it('a "crash" version fails the deploy with its error line as the reason, the old version serving', async () => {
    baton = await startBaton(configYaml({ web: { command: ['node', DEMO] } }));
    const d = await baton.cli('deploy', 'web', 'v2-crash');
    expect(d.code).toBe(1);
    // The stack of an ESM import failure is longer than the lines shown: the reason is the
    // error itself, not Node's closing `Node.js vNN` line.
    expect(d.stdout).toMatch(/failed +at healthy: version v2-crash exited during the health check \(exit code 1\): Error \[ERR_MODULE_NOT_FOUND\]: Cannot find module .*missing-in-v2-crash\.js/);
    expect(d.stdout).toContain('the previous version is still serving');
    expect(await activeVersion(baton)).toBe('v1');
  });

  it('an "unhealthy" version fails at the health deadline with the last probe status', async () => {
    baton = await startBaton(configYaml({ web: { command: ['node', DEMO], health: 'interval: 50ms\ndeadline: 1s' } }));
    const d = await baton.cli('deploy', 'web', 'v2-unhealthy');
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(/failed +at healthy: version v2-unhealthy was not healthy within 1s \(last probe: HTTP 503\)/);
    expect(await activeVersion(baton)).toBe('v1');
  });
});
