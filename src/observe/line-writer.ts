/**
 * Lines to a file (or stdout) in batches, from reused buffers (the access log, issue 16). A line
 * is written into the gathering buffer as it comes (reserve, write at `used`, commit); the
 * buffer goes to `fs.write` on the descriptor (libuv's thread pool, off the event loop) once it
 * holds BATCH_BYTES or its oldest line is FLUSH_MS old, and never while a write is under way:
 * then lines gather in the other buffer. Two buffers swap roles, so a busy proxy makes no garbage per line or per batch.
 *
 * Bounded: when `limitBytes` are waiting (being written included) because the disk is slower
 * than the traffic, a new line is dropped and reported; nothing ever waits for the disk. A
 * gathering buffer grows past INITIAL_BYTES only for such a backlog and is let go once written.
 */
import { close, mkdir, open, write } from 'node:fs';
import { dirname } from 'node:path';

/** What the owner is told: lines dropped, a descriptor that failed, a reopen done. */
export type WriterEvent =
  | { kind: 'dropped'; lines: number; reason: 'full' | 'write_failed' | 'closed' }
  | { kind: 'failed'; op: 'open' | 'write'; err: Error }
  | { kind: 'reopened' };

export interface LineWriterOptions {
  /** `stdout` (descriptor 1, flushed but never closed), or a file opened for appending, its folder made. */
  path: string;
  /** Bytes waiting for the disk (being written included) past which new lines are dropped. */
  limitBytes: number;
  report: (e: WriterEvent) => void;
}

/** A batch goes to the disk once it is this long... */
export const BATCH_BYTES = 32 * 1024;
/** ...or its first line is this old. */
export const FLUSH_MS = 100;
/** The size of a gathering buffer; a larger one is made only for a backlog. */
const INITIAL_BYTES = 64 * 1024;
/** A descriptor that said EAGAIN (a non-blocking pipe that is full) is tried again after this. */
const RETRY_MS = 100;

export class LineWriter {
  readonly #path: string;
  readonly #limit: number;
  readonly #report: (e: WriterEvent) => void;
  /** -1 until the file is open (lines gather meanwhile), and after close. */
  #fd = -1;
  /** The buffer lines are copied into, `#used` bytes of it, `#lines` lines. */
  #fill: Buffer;
  #used = 0;
  #lines = 0;
  /** The batch being written: bytes `#outAt` to `#outEnd` of `#out` are still to go. */
  #out: Buffer | undefined;
  #outAt = 0;
  #outEnd = 0;
  #outLines = 0;
  #writing = false;
  #opening = false;
  #reopenWanted = false;
  /** The flush timer fired while a write was under way: write again as soon as it ends. */
  #due = false;
  #timer: NodeJS.Timeout | undefined;
  #closing: (() => void) | undefined;
  #closed = false;

  constructor(opts: LineWriterOptions) {
    this.#path = opts.path;
    this.#limit = opts.limitBytes;
    this.#report = opts.report;
    this.#fill = Buffer.allocUnsafeSlow(Math.min(INITIAL_BYTES, this.#limit));
    if (opts.path === 'stdout') this.#fd = 1;
    else this.#open();
  }

  /** Bytes gathered or being written, not yet on the disk. */
  get waitingBytes(): number {
    return this.#used + this.#outEnd - this.#outAt;
  }

  /**
   * Room for a line of at most `maxBytes` in `buffer` from `used`, then `commit(end)`; false
   * when `limitBytes` are waiting: the line is dropped (and reported).
   */
  reserve(maxBytes: number): boolean {
    if (this.#closed) return false;
    if (maxBytes <= this.#fill.length - this.#used || this.#makeRoom(maxBytes)) return true;
    this.#report({ kind: 'dropped', lines: 1, reason: 'full' });
    return false;
  }

  /** The buffer to write the reserved line into, at `used`. */
  get buffer(): Buffer {
    return this.#fill;
  }

  get used(): number {
    return this.#used;
  }

  /** The reserved line is written, up to `end`. */
  commit(end: number): void {
    this.#used = end;
    this.#lines++;
    if (end >= BATCH_BYTES) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#onTimer, FLUSH_MS);
      this.#timer.unref();
    }
  }

  /** Open the file again (logrotate moved it): what is gathered meanwhile goes to the new one. */
  reopen(): void {
    if (this.#path === 'stdout' || this.#closed || this.#closing !== undefined) return;
    this.#reopenWanted = true;
    if (!this.#writing && !this.#opening) this.#open();
  }

  /** Write what is gathered (waiting at most `timeoutMs` for a slow disk), then close the file. */
  close(timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#finish(), timeoutMs);
      timer.unref();
      this.#closing = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#next();
    });
  }

  /** Room for `bytes` more in the gathering buffer, within the limit; false: drop the line. */
  #makeRoom(bytes: number): boolean {
    // Nothing under way: hand what is gathered to the disk first.
    if (!this.#writing && this.#used > 0) this.#flush();
    if (this.waitingBytes + bytes > this.#limit) return false;
    if (this.#fill.length - this.#used >= bytes) return true;
    const bigger = Buffer.allocUnsafeSlow(Math.min(this.#limit, Math.max(2 * this.#fill.length, this.#used + bytes)));
    this.#fill.copy(bigger, 0, 0, this.#used);
    this.#fill = bigger;
    return true;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#writing || this.#fd === -1) this.#due = true;
    else this.#flush();
  };

  /** Hand the gathered lines to the disk, unless a write is under way or the file is not open. */
  #flush(): void {
    if (this.#writing || this.#fd === -1 || this.#used === 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = false;
    const out = this.#fill;
    this.#fill = this.#out ?? Buffer.allocUnsafeSlow(Math.min(INITIAL_BYTES, this.#limit));
    this.#out = out;
    this.#outAt = 0;
    this.#outEnd = this.#used;
    this.#outLines = this.#lines;
    this.#used = 0;
    this.#lines = 0;
    this.#writeOut();
  }

  #writeOut(): void {
    this.#writing = true;
    write(this.#fd, this.#out!, this.#outAt, this.#outEnd - this.#outAt, null, this.#onWritten);
  }

  readonly #onWritten = (err: NodeJS.ErrnoException | null, n: number): void => {
    if (err !== null) {
      if (err.code === 'EAGAIN') {
        setTimeout(this.#onRetry, RETRY_MS).unref();
        return;
      }
      this.#report({ kind: 'failed', op: 'write', err });
      this.#report({ kind: 'dropped', lines: this.#outLines, reason: 'write_failed' });
    } else if (this.#outAt + n < this.#outEnd) {
      // A short write (a pipe): the rest of the batch.
      this.#outAt += n;
      return this.#writeOut();
    }
    this.#writing = false;
    this.#outAt = this.#outEnd = this.#outLines = 0;
    // A buffer grown for a backlog is let go once written.
    if (this.#out!.length > INITIAL_BYTES) this.#out = undefined;
    this.#next();
  };

  readonly #onRetry = (): void => this.#writeOut();

  /** After a write, an open, or a close asked for: what comes next. */
  #next(): void {
    if (this.#writing || this.#opening) return;
    if (this.#closed) return this.#closeFd();
    if (this.#reopenWanted) return this.#open();
    if (this.#closing !== undefined) {
      if (this.#used > 0 && this.#fd !== -1) return this.#flush();
      return this.#finish();
    }
    if (this.#used >= BATCH_BYTES || (this.#due && this.#used > 0)) this.#flush();
  }

  /** Open the file (again): mkdir -p, open for appending, then close the descriptor it replaces. */
  #open(): void {
    const reopen = this.#reopenWanted;
    this.#opening = true;
    this.#reopenWanted = false;
    mkdir(dirname(this.#path), { recursive: true }, () => {
      open(this.#path, 'a', (err, fd) => {
        this.#opening = false;
        if (err !== null) this.#report({ kind: 'failed', op: 'open', err });
        else if (this.#closed) close(fd, () => {});
        else {
          this.#closeFd();
          this.#fd = fd;
          if (reopen) this.#report({ kind: 'reopened' });
        }
        this.#next();
      });
    });
  }

  /** Closed (the timeout may come first): what could not be written is dropped and reported. */
  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#lines > 0) this.#report({ kind: 'dropped', lines: this.#lines, reason: 'closed' });
    this.#used = this.#lines = 0;
    // A write still under way (a disk stuck past the timeout) keeps its descriptor until it ends.
    if (!this.#writing) this.#closeFd();
    const done = this.#closing;
    this.#closing = undefined;
    done?.();
  }

  /** The file's descriptor closed; stdout's is never closed. */
  #closeFd(): void {
    if (this.#fd !== -1 && this.#path !== 'stdout') close(this.#fd, () => {});
    this.#fd = -1;
  }
}
