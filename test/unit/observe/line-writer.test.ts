import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LineWriter, type WriterEvent } from '../../../src/observe/line-writer.js';

function addLine(w: LineWriter, line: string): boolean {
  if (!w.reserve(3 * line.length)) return false;
  w.commit(w.used + w.buffer.write(line, w.used));
  return true;
}

describe('LineWriter', () => {
  it('appends every line to the file, in order, by the close', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    try {
      const events: WriterEvent[] = [];
      const w = new LineWriter({ path: path.join(dir, 'sub/access.log'), limitBytes: 8 << 20, report: (e) => events.push(e) });
      const lines = Array.from({ length: 5000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 300)}"}\n`);
      for (const l of lines) expect(addLine(w, l)).toBe(true);
      await w.close(5000);
      expect(await readFile(path.join(dir, 'sub/access.log'), 'utf8')).toBe(lines.join(''));
      expect(events).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a write that fails (ENOSPC on /dev/full) and drops its batch', async () => {
    const events: WriterEvent[] = [];
    const w = new LineWriter({ path: '/dev/full', limitBytes: 1 << 20, report: (e) => events.push(e) });
    for (let i = 0; i < 3; i++) addLine(w, `{"n":${i}}\n`);
    await w.close(5000);
    expect(events).toEqual([
      { kind: 'failed', op: 'write', err: expect.objectContaining({ code: 'ENOSPC' }) },
      { kind: 'dropped', lines: 3, reason: 'write_failed' },
    ]);
  });

  it('reports a file it cannot open, and the lines gathered for it as dropped at the close', async () => {
    const events: WriterEvent[] = [];
    const w = new LineWriter({ path: '/dev/null/not-a-folder/access.log', limitBytes: 1 << 20, report: (e) => events.push(e) });
    addLine(w, '{"n":1}\n');
    addLine(w, '{"n":2}\n');
    await w.close(5000);
    expect(events).toEqual([
      { kind: 'failed', op: 'open', err: expect.objectContaining({ code: 'ENOTDIR' }) },
      { kind: 'dropped', lines: 2, reason: 'closed' },
    ]);
  });

  it('drops a line past limitBytes waiting (the file not open yet) and writes the ones it kept', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    try {
      const events: WriterEvent[] = [];
      // The file opens asynchronously: until then lines wait, within the limit.
      const w = new LineWriter({ path: path.join(dir, 'a.log'), limitBytes: 4096, report: (e) => events.push(e) });
      const line = `${'y'.repeat(999)}\n`;
      let kept = 0;
      for (let i = 0; i < 10; i++) if (addLine(w, line)) kept++;
      expect(kept).toBeLessThan(10);
      expect(events.filter((e) => e.kind === 'dropped').length).toBe(10 - kept);
      await w.close(5000);
      expect((await readFile(path.join(dir, 'a.log'), 'utf8')).length).toBe(kept * 1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
