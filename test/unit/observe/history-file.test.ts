import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HISTORY_PER_SERVICE, HistoryFile, historyFileOf } from '../../../src/observe/history-file.js';
import type { HistoryEntry } from '../../../src/observe/history-entry.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'baton-history-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function entry(service: string | null, version = `v${++n}`): HistoryEntry {
  return {
    id: `id-${n}`,
    kind: service === null ? 'reload' : 'deploy',
    service,
    version,
    previous: null,
    started_at: new Date(1_700_000_000_000 + n * 1000).toISOString(),
    ended_at: null,
    ms: 1,
    steps: [],
    hold_ms: null,
    outcome: 'ok',
    error: null,
    by: { via: 'socket' },
    detail: {},
  };
}

const lines = async (file: string): Promise<HistoryEntry[]> =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as HistoryEntry);

describe('historyFileOf', () => {
  it('lives beside the state file', () => {
    expect(historyFileOf('/srv/baton/baton.state.json')).toBe('/srv/baton/baton.history.jsonl');
    expect(historyFileOf('/srv/state.json')).toBe('/srv/state.history.jsonl');
    expect(historyFileOf('/srv/state')).toBe('/srv/state.history.jsonl');
  });
});

describe('HistoryFile', () => {
  it('appends one line per record and reads them back after a restart', async () => {
    const file = path.join(dir, 'h.jsonl');
    const h = new HistoryFile(file);
    await h.append(entry('web'));
    await h.append(entry(null));
    const again = new HistoryFile(file);
    await again.load();
    expect(again.entries.map((e) => e.service)).toEqual(['web', null]);
  });

  it('keeps the last N per service (reloads their own group) and rewrites the file past the slack', async () => {
    const file = path.join(dir, 'h.jsonl');
    const h = new HistoryFile(file, 5);
    for (let i = 0; i < 130; i++) await h.append(entry('web'));
    for (let i = 0; i < 3; i++) await h.append(entry('api'));
    await h.append(entry(null));
    await h.flushed();
    const kept = h.entries.filter((e) => e.service === 'web');
    expect(kept).toHaveLength(5);
    expect(h.entries.filter((e) => e.service === 'api')).toHaveLength(3);
    // The file was rewritten once 100 fell past the bound: it holds far fewer than 134 lines.
    const onDisk = await lines(file);
    expect(onDisk.length).toBeLessThan(40);
    const reread = new HistoryFile(file, 5);
    await reread.load();
    expect(reread.entries.filter((e) => e.service === 'web').map((e) => e.id)).toEqual(kept.map((e) => e.id));
    // Loading a file over its bound rewrites it at once.
    expect(await lines(file)).toHaveLength(reread.entries.length);
  });

  it('keeps 1,000 per service by default: 1,150 deploys leave the last 1,000 in memory and in the file, read back after a restart', async () => {
    const file = path.join(dir, 'h.jsonl');
    const h = new HistoryFile(file);
    expect(HISTORY_PER_SERVICE).toBe(1000);
    for (let i = 0; i < 1150; i++) await h.append(entry('web'));
    await h.append(entry(null));
    await h.flushed();
    const kept = h.entries.filter((e) => e.service === 'web');
    expect(kept).toHaveLength(1000);
    // The file was rewritten at 1,100 (100 past the bound), then grew by the 50 since and the reload.
    const onDisk = await lines(file);
    expect(onDisk.length).toBe(1000 + 50 + 1);
    const reread = new HistoryFile(file);
    await reread.load();
    expect(reread.entries.filter((e) => e.service === 'web').map((e) => e.id)).toEqual(kept.map((e) => e.id));
    expect(reread.entries.at(-1)!.service).toBeNull();
  }, 60_000);

  it('skips a line cut by a crash and keeps the rest', async () => {
    const file = path.join(dir, 'h.jsonl');
    const h = new HistoryFile(file);
    await h.append(entry('web'));
    await appendFile(file, '{"id":"cut","kind":"dep');
    const again = new HistoryFile(file);
    expect(await again.load()).toEqual({ entries: 1, skipped: 1 });
    await again.append(entry('web'));
    expect(await lines(file)).toHaveLength(2);
  });
});
