import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import WebSocket from 'ws';
import { configYaml, dispose, startBaton, type RunningBaton, metricsText } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';
import type { SwapEvent } from '../../src/control/protocol.js';

/**
 * Canaries: `deploy --canary 10` sends about a tenth of clients to the new version, each client
 * keeps its side through a cookie, `promote` switches everyone, `rollback` ends the canary.
 */
let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

interface Answer {
  status: number;
  version: string | undefined;
  cookie: string | undefined;
}

function get(port: number, cookie?: string, agent: http.Agent | false = false): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/version', agent, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      res.resume();
      res.on('end', () => {
        const set = res.headers['set-cookie']?.[0];
        resolve({ status: res.statusCode!, version: res.headers['x-app-version'] as string | undefined, cookie: set?.split(';')[0] });
      });
    });
    req.on('error', () => resolve({ status: -1, version: undefined, cookie: undefined }));
  });
}

async function deploy(b: RunningBaton, body: Record<string, unknown>, route = 'deploy'): Promise<{ status: number; done: Extract<SwapEvent, { done: true }> }> {
  const r = await control(b.socket, 'POST', `/v1/services/web/${route}`, body);
  return { status: r.status, done: r.body as Extract<SwapEvent, { done: true }> };
}

async function status(b: RunningBaton): Promise<{ canary: { version: string; percent: number } | null; active: { version: string }; previous: { version: string } | null }> {
  const r = await control(b.socket, 'GET', '/v1/status');
  return (r.body as { services: { web: never } }).services.web;
}

/** Requests of service web answered by `version`, all methods and status classes. */
function versionRequests(text: string, version: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith('baton_version_requests_total{') && l.includes('service="web"') && l.includes(`version="${version}"`))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

describe('canary', () => {
  it('takes a whole percentage from 1 to 99 and refuses anything else, naming it', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    for (const bad of [0, 100, -5, 10.5, '10', true]) {
      const r = await deploy(baton, { version: 'v2', canary: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect((r.done as unknown as { error: { code: string; message: string } }).error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('1 to 99') });
    }
    expect((await status(baton)).canary).toBeNull();
    for (const percent of [1, 99]) {
      expect((await deploy(baton, { version: `v${percent}`, canary: percent })).done).toMatchObject({ done: true, ok: true, canary: percent });
      expect((await status(baton)).canary).toMatchObject({ version: `v${percent}`, percent });
      expect((await deploy(baton, {}, 'rollback')).done).toMatchObject({ done: true, ok: true, version: 'v1' });
    }
  });


  it('sends about 10% of new clients to the canary, and every client keeps its side', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const started = await deploy(baton, { version: 'v2', canary: 10 });
    expect(started.done).toMatchObject({ done: true, ok: true, version: 'v2', canary: 10 });
    expect((await status(baton)).canary).toMatchObject({ version: 'v2', percent: 10 });
    expect((await status(baton)).active.version).toBe('v1');

    const clients: Answer[] = [];
    for (let i = 0; i < 1000; i++) clients.push(await get(baton.port));
    const onCanary = clients.filter((c) => c.version === 'v2').length;
    console.log(`[canary] ${onCanary} of 1000 new clients on the 10% canary`);
    // Binomial(1000, 0.1): mean 100, sd 9.5; these bounds are 3.5 sd, 1 in 2,000 runs falls outside.
    expect(onCanary).toBeGreaterThanOrEqual(67);
    expect(onCanary).toBeLessThanOrEqual(133);
    expect(clients.every((c) => c.status === 200 && c.cookie !== undefined)).toBe(true);
    // The metrics count each side apart: by version, exactly the answers each side gave.
    const metrics = await metricsText(baton);
    expect(versionRequests(metrics, 'v2')).toBe(onCanary);
    expect(versionRequests(metrics, 'v1')).toBe(1000 - onCanary);

    // A client that sends its cookie back stays where it was drawn.
    const sample = [...clients.filter((c) => c.version === 'v2').slice(0, 5), ...clients.filter((c) => c.version === 'v1').slice(0, 5)];
    for (const c of sample) {
      for (let i = 0; i < 10; i++) {
        const again = await get(baton.port, c.cookie);
        expect(again.version).toBe(c.version);
        expect(again.cookie).toBeUndefined();
      }
    }
  });

  it('a deploy while a canary runs is refused with 409; promote switches everyone with the normal steps', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await deploy(baton, { version: 'v2', canary: 50 });
    const refused = await deploy(baton, { version: 'v3' });
    expect(refused.status).toBe(409);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const results: Answer[] = [];
    let running = true;
    const load = Array.from({ length: 8 }, async () => {
      const stop = performance.now() + 20_000;
      while (running && performance.now() < stop) results.push(await get(baton!.port, undefined, agent));
    });
    await new Promise((r) => setTimeout(r, 300));
    const promoted = await control(baton.socket, 'POST', '/v1/services/web/promote', {});
    running = false;
    await Promise.all(load);
    agent.destroy();
    expect(promoted.body).toMatchObject({ done: true, ok: true, version: 'v2', previous: 'v1' });
    const s = await status(baton);
    expect(s).toMatchObject({ canary: null, active: { version: 'v2' }, previous: { version: 'v1' } });
    for (let i = 0; i < 20; i++) expect((await get(baton.port)).version).toBe('v2');
    console.log(`[canary promote] requests=${results.length} failed=${results.filter((r) => r.status !== 200).length}`);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
  });

  it('rollback during a canary stops the canary and changes nothing else', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await deploy(baton, { version: 'v2', canary: 50 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const results: Answer[] = [];
    let running = true;
    const load = Array.from({ length: 8 }, async () => {
      const stop = performance.now() + 20_000;
      while (running && performance.now() < stop) results.push(await get(baton!.port, undefined, agent));
    });
    await new Promise((r) => setTimeout(r, 300));
    const rolled = await deploy(baton, {}, 'rollback');
    running = false;
    await Promise.all(load);
    agent.destroy();
    expect(rolled.done).toMatchObject({ done: true, ok: true, version: 'v1' });
    expect(await status(baton)).toMatchObject({ canary: null, active: { version: 'v1' }, previous: null });
    for (let i = 0; i < 20; i++) expect((await get(baton.port)).version).toBe('v1');
    console.log(`[canary rollback] requests=${results.length} on_canary=${results.filter((r) => r.version === 'v2').length} failed=${results.filter((r) => r.status !== 200).length}`);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.some((r) => r.version === 'v2')).toBe(true);
  });

  it('only the canary side hears of the canary version; at the promote, only the others do', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const heard = { canary: [] as string[], stable: [] as string[] };
    const open = (cookie: string, into: string[]): Promise<WebSocket> =>
      new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${baton!.port}/_baton/ws`, { headers: { cookie } });
        ws.on('message', (d) => {
          const m = JSON.parse(String(d)) as { type: string; version: string };
          into.push(`${m.type}:${m.version}`);
        });
        ws.on('open', () => resolve(ws));
      });
    // Pages whose cookie put them on each side of the canary of v2.
    const onCanary = await open('baton_canary_web=canary-v2', heard.canary);
    const onStable = await open('a=1; baton_canary_web=stable-v2', heard.stable);
    await deploy(baton, { version: 'v2', canary: 10 });
    await new Promise((r) => setTimeout(r, 200));
    expect(heard.canary).toEqual(['deploying:v2', 'deployed:v2']);
    expect(heard.stable).toEqual([]);
    await control(baton.socket, 'POST', '/v1/services/web/promote', {});
    await new Promise((r) => setTimeout(r, 200));
    expect(heard.stable).toEqual(['deployed:v2']);
    expect(heard.canary).toEqual(['deploying:v2', 'deployed:v2']);
    onCanary.close();
    onStable.close();
  });
});
