/**
 * The deploy history (issue 16) of a real Baton: what is recorded and by whom, through the
 * CLI and GET /v1/history, newest first, across a restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { configYaml, dispose, runCli, startBaton, type RunningBaton } from '../helpers/baton.js';
import { freePort } from '../../src/runtime/free-port.js';
import type { HistoryEntry } from '../../src/observe/history-entry.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

async function history(b: RunningBaton, ...args: string[]): Promise<HistoryEntry[]> {
  const r = await b.cli('history', '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { history: HistoryEntry[] }).history;
}

function getJson(socket: string, urlPath: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path: urlPath }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(t) }));
      })
      .on('error', reject);
  });
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the deploy history', () => {
  it('records deploys, rollbacks, pauses, resumes, maintenance and reloads with their steps and who asked, newest first', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('deploy', 'web', 'v2')).code).toBe(0);
    expect((await baton.cli('rollback', 'web')).code).toBe(0);
    expect((await baton.cli('pause', 'web', '--timeout', '30s')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect((await baton.cli('resume', 'web')).code).toBe(0);
    expect((await baton.cli('maintenance', 'web', 'on', '--message', 'back soon')).code).toBe(0);
    expect((await baton.cli('maintenance', 'web', 'off')).code).toBe(0);
    expect((await baton.cli('reload')).code).toBe(0);

    const h = await history(baton);
    expect(h.map((e) => e.kind)).toEqual(['reload', 'maintenance', 'maintenance', 'resume', 'pause', 'rollback', 'deploy']);
    for (const e of h) expect(e.by).toEqual({ via: 'socket' });
    const [reload, off, on, resume, pause, rollback, deploy] = h as [HistoryEntry, HistoryEntry, HistoryEntry, HistoryEntry, HistoryEntry, HistoryEntry, HistoryEntry];
    expect(deploy).toMatchObject({ service: 'web', version: 'v2', previous: 'v1', outcome: 'ok', error: null });
    expect(deploy.steps.map((s) => s.step)).toEqual(['start', 'healthy', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop']);
    for (const s of deploy.steps) expect(s.ms).toBeGreaterThanOrEqual(0);
    expect(deploy.hold_ms).toBeGreaterThanOrEqual(0);
    expect(deploy.ms).toBeGreaterThan(0);
    expect(Date.parse(deploy.ended_at!)).toBeGreaterThanOrEqual(Date.parse(deploy.started_at));
    expect(rollback).toMatchObject({ version: 'v1', previous: 'v2', outcome: 'ok' });
    expect(pause).toMatchObject({ version: 'v1', detail: { timeout_ms: 30_000 } });
    expect(resume.hold_ms).toBeGreaterThanOrEqual(100);
    expect(on.detail).toEqual({ on: true, message: 'back soon' });
    expect(off.detail).toEqual({ on: false });
    expect(reload).toMatchObject({ service: null, outcome: 'ok', detail: { added: [], removed: [], changed: [] } });
  });

  it('records a failed deploy with its error and the step it failed at', async () => {
    baton = await startBaton(configYaml({ web: { health: 'interval: 50ms\ndeadline: 2s' } }));
    expect((await baton.cli('deploy', 'web', 'crash1')).code).toBe(1);
    const [e] = await history(baton, 'web');
    expect(e).toMatchObject({ kind: 'deploy', version: 'crash1', previous: 'v1', outcome: 'failed' });
    expect(e!.error?.code).toMatch(/EXITED|START_FAILED|UNHEALTHY/);
    expect(e!.error?.step).toBeTypeOf('string');
  });

  it('does not record a deploy refused before it began', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('deploy', 'web', '../bad')).code).toBe(2);
    expect((await baton.cli('promote', 'web')).code).not.toBe(0);
    expect(await history(baton)).toEqual([]);
  });

  it('records a canary and its promotion', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('deploy', 'web', 'v2', '--canary', '25')).code).toBe(0);
    expect((await baton.cli('promote', 'web')).code).toBe(0);
    const [promote, canary] = await history(baton);
    expect(canary).toMatchObject({ kind: 'canary', version: 'v2', previous: 'v1', detail: { percent: 25 }, outcome: 'ok' });
    expect(promote).toMatchObject({ kind: 'promote', version: 'v2', previous: 'v1', outcome: 'ok' });
  });

  it('names SIGHUP as the caller of a reload, and a TCP token by its name', async () => {
    const tcpPort = await freePort();
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    await writeFile(path.join(dir, 'ci.token'), '# tokens of the TCP listener\nrelease-bot:bot-token-0123456789abcdef\nunnamed-token-0123456789abcdef\n', { mode: 0o600 });
    await writeFile(path.join(dir, 'bot.token'), 'release-bot:bot-token-0123456789abcdef\n', { mode: 0o600 });
    const yaml = configYaml({ web: {} }).replace('control:\n  socket: ./baton.sock\n', `control:\n  socket: ./baton.sock\n  tcp:\n    listen: 127.0.0.1:${tcpPort}\n    token_file: ./ci.token\n`);
    baton = await startBaton(yaml, { dir });
    baton.proc.kill('SIGHUP');
    const afterHup = await until(
      () => history(baton!),
      (h) => h.length > 0,
    );
    expect(afterHup[0]).toMatchObject({ kind: 'reload', by: { via: 'signal', signal: 'SIGHUP' } });
    const control = `http://127.0.0.1:${tcpPort}`;
    // The CLI reads `name:token` and sends only the token.
    expect((await runCli(['pause', 'web', '--control', control, '--token-file', path.join(dir, 'bot.token')])).code).toBe(0);
    expect((await runCli(['resume', 'web', '--control', control], { BATON_TOKEN: 'unnamed-token-0123456789abcdef' })).code).toBe(0);
    const [resume, pause] = await history(baton);
    expect(pause!.by).toEqual({ via: 'tcp', token: 'release-bot', address: '127.0.0.1' });
    // A token without a name is named after its file.
    expect(resume!.by).toEqual({ via: 'tcp', token: 'ci', address: '127.0.0.1' });
    const text = await baton.cli('history', '-n', '2');
    expect(text.stdout).toMatch(/resume .* token ci \(127\.0\.0\.1\)/);
  });

  it('survives a restart; GET /v1/history filters by service, n and kind; the file is beside the state file', async () => {
    const yaml = configYaml({ web: {}, api: { hosts: ['api.test'] } });
    baton = await startBaton(yaml);
    expect((await baton.cli('deploy', 'web', 'v2')).code).toBe(0);
    expect((await baton.cli('deploy', 'api', 'v2')).code).toBe(0);
    expect((await baton.cli('pause', 'api')).code).toBe(0);
    const dir = baton.dir;
    await baton.stop();
    const file = await readFile(path.join(dir, 'baton.history.jsonl'), 'utf8');
    expect(file.trim().split('\n')).toHaveLength(3);
    baton = await startBaton(yaml, { dir });
    expect((await history(baton)).map((e) => `${e.kind} ${e.service}`)).toEqual(['pause api', 'deploy api', 'deploy web']);
    const api = await getJson(baton.socket, '/v1/history?service=api&n=1');
    expect(api.status).toBe(200);
    expect((api.body as { history: HistoryEntry[] }).history.map((e) => e.kind)).toEqual(['pause']);
    const deploys = await getJson(baton.socket, '/v1/history?kind=deploy');
    expect((deploys.body as { history: HistoryEntry[] }).history.map((e) => e.service)).toEqual(['api', 'web']);
    expect((await getJson(baton.socket, '/v1/history?n=0')).status).toBe(400);
    expect((await getJson(baton.socket, '/v1/history?service=nope')).status).toBe(404);
  });

  it('baton history prints a table, newest first; -n limits it; an unknown service exits 2', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('history')).stdout.trim()).toBe('no history yet');
    expect((await baton.cli('deploy', 'web', 'v2')).code).toBe(0);
    expect((await baton.cli('pause', 'web')).code).toBe(0);
    const table = await baton.cli('history', 'web');
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^STARTED\s+SERVICE\s+KIND\s+CHANGE\s+OUTCOME\s+TOOK\s+HOLD\s+BY$/);
    expect(rows[1]).toMatch(/web\s+pause\s+until resumed\s+ok/);
    expect(rows[2]).toMatch(/web\s+deploy\s+v1 -> v2\s+ok\s+\S+\s+\S+\s+socket/);
    expect((await baton.cli('history', '-n', '1')).stdout.trim().split('\n')).toHaveLength(2);
    const unknown = await baton.cli('history', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('UNKNOWN_SERVICE');
    expect((await baton.cli('history', '-n', '0')).code).toBe(2);
  });
});
