import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
import { BatonError } from '../errors.js';
import type { SavedInstance } from '../runtime/runtime.js';

/** What Baton remembers across restarts: the version each service last switched to. */
export interface SavedState {
  services: Record<string, SavedService>;
}

export interface SavedService {
  version: string;
  previous?: string;
  /** Maintenance mode, kept across restarts. */
  maintenance?: { message: string; since: number };
  /** Process-runtime instances of the active version, for the next Baton to adopt (Docker finds its own by label). */
  instances?: SavedInstance[];
  /** A canary, and its process-runtime instances. */
  canary?: { version: string; percent: number; instances?: SavedInstance[] };
  /** A pause: until when (epoch ms), or null for one without a timeout. */
  paused?: { until: number | null };
}

/**
 * The state file beside the config. Written atomically: temp file, fsync, rename, so a crash
 * leaves either the old or the new content, never half of one. Writes are serialized.
 */
export class StateStore {
  readonly file: string;
  #chain: Promise<void> = Promise.resolve();

  constructor(file: string) {
    this.file = file;
  }

  /** The saved state; empty when there is no file yet. A corrupt file is an error naming it. */
  async read(): Promise<SavedState> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { services: {} };
      throw new BatonError('STATE_UNREADABLE', `cannot read state file ${this.file}: ${(err as Error).message}`, { cause: err, details: { file: this.file } });
    }
    try {
      const data = JSON.parse(text) as unknown;
      if (!isSavedState(data)) throw new Error('expected {"services": {"<name>": {"version": "..."}}}');
      return data;
    } catch (err) {
      throw new BatonError('STATE_UNREADABLE', `state file ${this.file} is corrupt: ${(err as Error).message} (delete it to start from the configured versions)`, {
        cause: err,
        details: { file: this.file },
      });
    }
  }

  /** Replace the file's content atomically. Concurrent writes are applied in call order. */
  write(state: SavedState): Promise<void> {
    const run = this.#chain.then(() => this.#writeNow(state));
    this.#chain = run.catch(() => {});
    return run;
  }

  #writeNow(state: SavedState): Promise<void> {
    return writeFileAtomic(this.file, JSON.stringify(state, null, 2) + '\n');
  }
}

function isSavedState(v: unknown): v is SavedState {
  if (typeof v !== 'object' || v === null) return false;
  const services = (v as { services?: unknown }).services;
  if (typeof services !== 'object' || services === null) return false;
  return Object.values(services).every((s) => typeof s === 'object' && s !== null && typeof (s as { version?: unknown }).version === 'string');
}
