import type { Logger } from 'pino';
import { logAppLine, MAX_LINE } from '../log/app-line.js';
import type { OutputLine } from './runtime.js';

/** Lines kept for `baton logs -n N` (about 2 MB at most with the longest lines). */
const KEPT = 1000;
/** Lines in a failure report ("exited with code 3: boom"). */
const REPORTED = 20;

/**
 * An app's output: splits it into lines, logs each with its stream, keeps the last ones (for
 * failure reports and `baton logs`) and hands new ones to whoever follows them.
 */
export class OutputTail {
  readonly #lines: OutputLine[] = [];
  readonly #max: number;
  readonly #log: Logger;
  readonly #followers = new Set<(line: OutputLine) => void>();
  #partial = new Map<OutputLine['stream'], string>();

  constructor(log: Logger, max = KEPT) {
    this.#log = log;
    this.#max = max;
  }

  write(stream: OutputLine['stream'], chunk: Buffer | string): void {
    const text = (this.#partial.get(stream) ?? '') + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#partial.set(stream, parts.pop()!.slice(-4096));
    for (const raw of parts) this.#line(stream, raw);
  }

  /** Flush a last line with no newline (the app exited mid-line). */
  flush(): void {
    for (const [stream, rest] of this.#partial) if (rest !== '') this.#line(stream, rest);
    this.#partial.clear();
  }

  /** The text of the last `n` lines, oldest first. */
  lines(n = REPORTED): string[] {
    return this.recent(n).map((l) => l.line);
  }

  /** The last `n` lines with their stream and time, oldest first. */
  recent(n: number): OutputLine[] {
    return n <= 0 ? [] : this.#lines.slice(-n);
  }

  /** Calls `onLine` with every line written from now on; returns the unsubscribe. */
  follow(onLine: (line: OutputLine) => void): () => void {
    this.#followers.add(onLine);
    return () => this.#followers.delete(onLine);
  }

  #line(stream: OutputLine['stream'], raw: string): void {
    const text = raw.replace(/\r$/, '').slice(0, MAX_LINE);
    if (text === '') return;
    const line: OutputLine = { stream, line: text, time: Date.now() };
    this.#lines.push(line);
    if (this.#lines.length > this.#max) this.#lines.shift();
    logAppLine(this.#log, stream, text);
    for (const f of this.#followers) f(line);
  }
}
