/**
 * Where an app's output goes on the process runtime: two files of its own (stdout, stderr) in
 * a folder beside the state file, rather than pipes to Baton, so the app outlives the Baton
 * that started it (a `baton upgrade`, a crash) without writing into a closed pipe. Baton
 * follows the files (`FileTail`) into its log and the instance's recent lines.
 */
import { closeSync, fstatSync, openSync, readSync, ftruncateSync, mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { OutputTail } from './output.js';
import type { OutputLine } from './runtime.js';

/** How often the files are read. */
const POLL_MS = 100;
/** Past this size a file is emptied once read (the app writes with O_APPEND: it carries on at 0). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface OutputFiles {
  out: string;
  err: string;
}

/** Two new files for an app's stdout and stderr; the descriptors are the app's to inherit (close them once spawned). */
export function openOutputFiles(dir: string, name: string): { files: OutputFiles; fds: { out: number; err: number } } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stem = path.join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '-')}.${randomBytes(4).toString('hex')}`);
  const files = { out: `${stem}.out`, err: `${stem}.err` };
  return { files, fds: { out: openSync(files.out, 'a', 0o600), err: openSync(files.err, 'a', 0o600) } };
}

/** Follows one output file into `tail`, from `fromEnd` (an adopted app: what it wrote before is not logged again). */
export class FileTail {
  readonly #file: string;
  readonly #stream: OutputLine['stream'];
  readonly #tail: OutputTail;
  readonly #buf = Buffer.allocUnsafe(64 * 1024);
  #fd: number | undefined;
  #offset = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(file: string, stream: OutputLine['stream'], tail: OutputTail, opts: { fromEnd: boolean }) {
    this.#file = file;
    this.#stream = stream;
    this.#tail = tail;
    try {
      this.#fd = openSync(file, 'r');
      if (opts.fromEnd) this.#offset = fstatSync(this.#fd).size;
    } catch {
      this.#fd = undefined;
    }
    this.#timer = setInterval(() => this.#read(), POLL_MS);
    this.#timer.unref();
  }

  /** Read what is left, then stop; `remove` deletes the file (the app has exited). */
  stop(remove: boolean): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#read();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    if (remove) {
      try {
        unlinkSync(this.#file);
      } catch {
        // Gone already.
      }
    }
  }

  #read(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    try {
      for (;;) {
        const n = readSync(fd, this.#buf, 0, this.#buf.length, this.#offset);
        if (n === 0) break;
        this.#offset += n;
        this.#tail.write(this.#stream, this.#buf.subarray(0, n));
      }
      if (this.#offset > MAX_FILE_BYTES) {
        // The app writes with O_APPEND, so it goes on at the new end: what it writes between the
        // last read and the truncation is lost (a few bytes, once per 16 MiB).
        const w = openSync(this.#file, 'r+');
        ftruncateSync(w, 0);
        closeSync(w);
        this.#offset = 0;
      }
    } catch {
      // The file went away: nothing more to follow.
    }
  }
}
