import type { Logger } from 'pino';

/**
 * Splits an app's output into lines, logs each with its stream, and keeps the last few for
 * failure reports ("exited with code 3: boom").
 */
export class OutputTail {
  readonly #lines: string[] = [];
  readonly #max: number;
  readonly #log: Logger;
  #partial = new Map<string, string>();

  constructor(log: Logger, max = 20) {
    this.#log = log;
    this.#max = max;
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    const text = (this.#partial.get(stream) ?? '') + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#partial.set(stream, parts.pop()!.slice(-4096));
    for (const raw of parts) this.#line(stream, raw);
  }

  /** Flush a last line with no newline (the app exited mid-line). */
  flush(): void {
    for (const [stream, rest] of this.#partial) if (rest !== '') this.#line(stream as 'stdout' | 'stderr', rest);
    this.#partial.clear();
  }

  lines(): string[] {
    return [...this.#lines];
  }

  #line(stream: 'stdout' | 'stderr', raw: string): void {
    const line = raw.replace(/\r$/, '').slice(0, 2000);
    if (line === '') return;
    this.#lines.push(line);
    if (this.#lines.length > this.#max) this.#lines.shift();
    if (stream === 'stderr') this.#log.warn({ stream }, line);
    else this.#log.info({ stream }, line);
  }
}
