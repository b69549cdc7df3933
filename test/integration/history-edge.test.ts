/**
 * The deploy history (issue 16) of what came with migrations and `baton upgrade` (issues 13
 * and 14): a deploy that migrates in the hold has its hold, quiesce and migrate steps timed,
 * maintenance around a migration is recorded, and an upgrade is recorded by the process that
 * ran it, read by the one that took over, and kept across a restart; a failed one is recorded
 * too. Real processes through the CLI.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configYaml, dispose, events, removeDir, runCli, startBaton, type RunningBaton } from '../helpers/baton.js';
import type { HistoryEntry } from '../../src/observe/history-entry.js';

/** Every Baton pid a test saw and the folders it made: stopped and removed afterwards. */
const pids = new Set<number>();
const batons: RunningBaton[] = [];
afterEach(async () => {
  for (const pid of pids) if (alive(pid)) await stopPid(pid);
  pids.clear();
  for (const b of batons.splice(0)) {
    await dispose(b);
    await removeDir(b.dir);
  }
});

/** Running (a zombie, exited but not yet reaped by its new parent, is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM (Baton stops its apps), then SIGKILL after 30 s; resolves once the pid is gone. */
async function stopPid(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function started(yaml: string, opts: Parameters<typeof startBaton>[1] = {}): Promise<RunningBaton> {
  const b = await startBaton(yaml, opts);
  batons.push(b);
  pids.add(b.proc.pid!);
  return b;
}

async function history(socket: string, ...args: string[]): Promise<HistoryEntry[]> {
  const r = await runCli(['history', '--json', '--socket', socket, ...args]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { history: HistoryEntry[] }).history;
}

const step = (e: HistoryEntry, name: string): HistoryEntry['steps'][number] => {
  const s = e.steps.find((x) => x.step === name);
  if (s === undefined) throw new Error(`no ${name} step in ${e.steps.map((x) => x.step).join(',')}`);
  return s;
};

describe('the deploy history of migrations and upgrades', () => {
  it('times the hold, quiesce and migrate steps of a deploy that migrates in the hold; records maintenance around one that does not', async () => {
    const migrate = (hold: boolean): string => `migrate:\n  command: ["node", "-e", "setTimeout(() => {}, 600)"]\n  hold: ${hold}\n  timeout: 20s`;
    const b = await started(configYaml({ web: { extra: migrate(true) } }));
    expect((await b.cli('deploy', 'web', 'v2')).code).toBe(0);
    const [held] = await history(b.socket, 'web', '-n', '1');
    expect(held).toMatchObject({ kind: 'deploy', version: 'v2', previous: 'v1', outcome: 'ok', by: { via: 'socket' } });
    expect(held!.steps.map((s) => s.step)).toEqual(['start', 'healthy', 'hold', 'quiesce', 'migrate', 'switch', 'resume', 'notify', 'drain', 'stop']);
    // The hold lasted through quiesce and the migration: it is at least as long as the migration.
    expect(held!.hold_ms).toBeGreaterThanOrEqual(step(held!, 'migrate').ms);
    expect(step(held!, 'migrate').ms).toBeGreaterThan(step(held!, 'switch').ms);
    expect(step(held!, 'quiesce')).toMatchObject({ version: 'v1', cut: 0 });
    // Each step ends after the one before it.
    const at = held!.steps.map((s) => s.at_ms);
    expect([...at].sort((x, y) => x - y)).toEqual(at);

    // A migration longer than a hold runs under maintenance (hold: false): three records.
    await writeFile(b.configFile, configYaml({ web: { extra: migrate(false) } }));
    expect((await b.cli('reload')).code).toBe(0);
    expect((await b.cli('maintenance', 'web', 'on', '--message', 'migrating')).code).toBe(0);
    expect((await b.cli('deploy', 'web', 'v3')).code).toBe(0);
    expect((await b.cli('maintenance', 'web', 'off')).code).toBe(0);
    const last = await history(b.socket, 'web', '-n', '3');
    expect(last.map((e) => [e.kind, e.kind === 'maintenance' ? e.detail.on : e.version])).toEqual([
      ['maintenance', false],
      ['deploy', 'v3'],
      ['maintenance', true],
    ]);
    expect(last[1]!.steps.map((s) => s.step)).toEqual(['start', 'healthy', 'migrate', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop']);
    expect(last[2]!.detail).toEqual({ on: true, message: 'migrating' });
  }, 90_000);

  it('records an upgrade (steps, who asked, both pids) where the new process reads it, by the CLI and by SIGUSR2, and keeps it across a restart', async () => {
    const b = await started(configYaml({ web: {} }));
    expect((await b.cli('deploy', 'web', 'v2')).code).toBe(0);
    const oldPid = b.proc.pid!;

    const r = await runCli(['upgrade', '--json', '--socket', b.socket]);
    expect(r.code).toBe(0);
    const done = events(r.stdout).at(-1) as { ok: boolean; pid: number };
    expect(done.ok).toBe(true);
    const newPid = done.pid;
    pids.add(newPid);
    await until('the old Baton gone', () => !alive(oldPid));
    const first = await until('the upgrade in the new process history', async () => (await history(b.socket)).find((e) => e.kind === 'upgrade'));
    expect(first).toMatchObject({ kind: 'upgrade', service: null, outcome: 'ok', error: null, by: { via: 'socket' }, detail: { pid: newPid, previous_pid: oldPid } });
    expect(first.steps.map((s) => s.step)).toEqual(['spawn', 'adopt', 'ready', 'handover', 'drain']);
    // What was recorded before the upgrade is still there, in the new process.
    expect((await history(b.socket, 'web')).map((e) => [e.kind, e.version])).toContainEqual(['deploy', 'v2']);
    const table = await runCli(['history', '--socket', b.socket, '-n', '1']);
    expect(table.stdout).toMatch(new RegExp(`upgrade\\s+pid ${oldPid} -> ${newPid}\\s+ok`));

    // SIGUSR2 to the new one: recorded with the signal as the caller.
    process.kill(newPid, 'SIGUSR2');
    await until('the second old Baton gone', () => !alive(newPid), 30_000);
    const second = await until('the SIGUSR2 upgrade recorded', async () => {
      const upgrades = (await history(b.socket)).filter((e) => e.kind === 'upgrade');
      return upgrades.length >= 2 ? upgrades : undefined;
    });
    expect(second[0]).toMatchObject({ outcome: 'ok', by: { via: 'signal', signal: 'SIGUSR2' }, detail: { previous_pid: newPid } });
    const thirdPid = second[0]!.detail.pid as number;
    pids.add(thirdPid);

    // A restart reads both from the file, which holds each record once.
    await stopPid(thirdPid);
    const file = path.join(b.dir, 'baton.history.jsonl');
    const onDisk = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as HistoryEntry);
    expect(onDisk.filter((e) => e.kind === 'upgrade')).toHaveLength(2);
    expect(new Set(onDisk.map((e) => e.id)).size).toBe(onDisk.length);
    const again = await started(configYaml({ web: {} }), { dir: b.dir });
    const after = await history(again.socket);
    expect(after.filter((e) => e.kind === 'upgrade').map((e) => e.by.via)).toEqual(['signal', 'socket']);
  }, 120_000);

  it('records a failed upgrade with the step it failed at; the Baton that ran it serves on', async () => {
    const b = await started(configYaml({ web: {} }), { env: { BATON_UPGRADE_FAULT: 'adopt' } });
    const r = await runCli(['upgrade', '--json', '--socket', b.socket]);
    expect(r.code).toBe(1);
    const spawned = Number(events(r.stdout).find((e) => e.step === 'spawn')!.pid);
    pids.add(spawned);
    const e = (await history(b.socket)).find((x) => x.kind === 'upgrade');
    expect(e).toMatchObject({ kind: 'upgrade', outcome: 'failed', error: { code: 'ADOPTION_FAILED', step: 'adopt' }, detail: { previous_pid: b.proc.pid } });
    expect(e!.steps.map((s) => s.step)).toEqual(['spawn']);
    await until('the failed successor gone', () => !alive(spawned));
  }, 60_000);
});
