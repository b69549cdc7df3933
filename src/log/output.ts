/**
 * Where Baton's own log goes: stderr, or, for a Baton started by `baton upgrade`, first the pipe
 * its predecessor reads (kept for a failure report), then the predecessor's own stderr once it
 * is in charge (the pipe ends with the old process).
 */
import { writeSync } from 'node:fs';

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export class LogOutput {
  #fd: number;

  constructor(fd = 2) {
    this.#fd = fd;
  }

  /** The descriptor written now (a successor inherits it as its log). */
  get descriptor(): number {
    return this.#fd;
  }

  /** From now on, write to `fd`; what Node itself writes to stderr (a warning) follows. */
  moveTo(fd: number): void {
    this.#fd = fd;
    const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      this.write(chunk);
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };
    process.stderr.write = write as typeof process.stderr.write;
    process.stdout.write = write as typeof process.stdout.write;
  }

  /** One whole line at a time (pino hands a record in one call); a log that cannot be written is dropped, never thrown. */
  write(chunk: string | Uint8Array): boolean {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let off = 0;
    for (let tries = 0; off < data.length; ) {
      try {
        off += writeSync(this.#fd, data, off);
      } catch (err) {
        // A full non-blocking pipe: wait for the reader a little. A closed one (EPIPE) or a
        // reader that does not read: the line is lost, Baton goes on.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 100) break;
        Atomics.wait(PAUSE, 0, 0, 1);
      }
    }
    return true;
  }
}
