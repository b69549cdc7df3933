/**
 * The history file beside the state file: one JSON line per finished change, appended (and
 * synced) as it ends, so it survives restarts and crashes (a line cut by a crash is skipped
 * when read). Bounded: once 100 records beyond the last `perGroup` of a service (reloads count
 * as their own group) have piled up, the file is rewritten with only those, atomically (temp
 * file, fsync, rename), so a crash leaves the old file or the new one.
 */
import { open, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../state/atomic-write.js';
import { basename, dirname, join } from 'node:path';
import type { HistoryEntry } from './history-entry.js';

/** Records kept per service (and for reloads). */
export const HISTORY_PER_SERVICE = 1000;
/** Records past the bound that trigger a rewrite: the file grows by at most this much. */
const SLACK = 100;

/** `baton.state.json` -> `baton.history.jsonl`; any other name gets `.history.jsonl` appended. */
export function historyFileOf(stateFile: string): string {
  const name = basename(stateFile);
  const stem = name.endsWith('.state.json') ? name.slice(0, -'.state.json'.length) : name.endsWith('.json') ? name.slice(0, -'.json'.length) : name;
  return join(dirname(stateFile), `${stem}.history.jsonl`);
}

const groupOf = (e: HistoryEntry): string => e.service ?? '';

export class HistoryFile {
  readonly file: string;
  readonly #perGroup: number;
  /** What the file holds (after the last rewrite, and what was appended since), oldest first. */
  #entries: HistoryEntry[] = [];
  readonly #counts = new Map<string, number>();
  #excess = 0;
  #chain: Promise<void> = Promise.resolve();

  constructor(file: string, perGroup = HISTORY_PER_SERVICE) {
    this.file = file;
    this.#perGroup = perGroup;
  }

  /** The records kept, oldest first. */
  get entries(): readonly HistoryEntry[] {
    return this.#entries;
  }

  /**
   * Read the file. Unreadable lines are skipped and counted; a missing file is an empty
   * history. A file over its bound is rewritten now.
   */
  async load(): Promise<{ entries: number; skipped: number }> {
    // Read again (after an upgrade): the writes asked for so far are in the file first.
    await this.#chain;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: 0, skipped: 0 };
      throw err;
    }
    let skipped = 0;
    const all: HistoryEntry[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const e = JSON.parse(line) as HistoryEntry;
        if (typeof e === 'object' && e !== null && typeof e.kind === 'string' && typeof e.started_at === 'string') all.push(e);
        else skipped++;
      } catch {
        skipped++;
      }
    }
    this.#entries = [];
    this.#counts.clear();
    this.#excess = 0;
    for (const e of all) this.#keep(e);
    if (this.#excess > 0 || skipped > 0) await this.#rewriteNow();
    return { entries: this.#entries.length, skipped };
  }

  /** Append a finished record; rewrites the file when enough records fell past the bound. */
  append(entry: HistoryEntry): Promise<void> {
    this.#keep(entry);
    if (this.#excess >= SLACK) return this.#rewriteNow();
    const line = JSON.stringify(entry) + '\n';
    return this.#serialized(async () => {
      const fh = await open(this.file, 'a', 0o600);
      try {
        await fh.write(line);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    });
  }

  /** Resolves when every write asked for so far has ended. */
  flushed(): Promise<void> {
    return this.#chain;
  }

  #keep(entry: HistoryEntry): void {
    this.#entries.push(entry);
    const g = groupOf(entry);
    const n = (this.#counts.get(g) ?? 0) + 1;
    this.#counts.set(g, n);
    if (n <= this.#perGroup) return;
    // Drop the oldest of that group from memory; the file keeps it until the next rewrite.
    const i = this.#entries.findIndex((e) => groupOf(e) === g);
    this.#entries.splice(i, 1);
    this.#counts.set(g, n - 1);
    this.#excess++;
  }

  /** Rewrite the file with the records kept now (a snapshot: later appends follow it). */
  #rewriteNow(): Promise<void> {
    const kept = this.#entries.map((e) => JSON.stringify(e) + '\n').join('');
    this.#excess = 0;
    return this.#serialized(() => this.#rewrite(kept));
  }

  #rewrite(text: string): Promise<void> {
    return writeFileAtomic(this.file, text);
  }

  #serialized(write: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(write);
    this.#chain = run.catch(() => {});
    return run;
  }
}
