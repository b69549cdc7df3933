export const READ_SIZE = 64 * 1024;
/** A read at least this large, while a body streams, makes the next read go to a buffer of its own. */
export const LARGE_READ = 16 * 1024;
/** Own buffers kept for reuse at most (so at most 4 MiB held while no large body streams). */
const SPARE_BUFFERS = 32;
/**
 * The size of a buffer of its own: larger than the shared one, as the kernel often has more
 * than 64 KiB of a large body ready, and each read saved is a write to the client saved too.
 */
export const OWN_READ_SIZE = 128 * 1024;

/**
 * The read buffers a transport's sockets share. Each socket read with `onread` keeps reading
 * into the buffer its generator last gave it, so a buffer handed to one socket is in use by
 * every socket given it: bytes read into the shared one must be copied out (`keep`) before
 * they outlive the read. A socket streaming a large body reads into a buffer of its own instead
 * (`take`), handed on without a copy; once the bytes read into it have left Baton, it is read
 * into again or given back (`give`) for the next large body, so streaming allocates nothing and
 * leaves the garbage collector nothing to do (a fresh 64 KiB per read made V8 run a full
 * collection every few dozen large responses).
 */
export class ReadBuffers {
  readonly shared = Buffer.allocUnsafe(READ_SIZE);
  readonly #spare: Buffer[] = [];

  /** A buffer of its own for one socket, until it is given back or given away with its bytes. */
  take(): Buffer {
    return this.#spare.pop() ?? Buffer.allocUnsafe(OWN_READ_SIZE);
  }

  /** A buffer of the shared size for one read, given away with its bytes. */
  fresh(): Buffer {
    return Buffer.allocUnsafe(READ_SIZE);
  }

  /** `buffer`, from take() or fresh(), holds nothing anybody still reads: another socket may read into it. */
  give(buffer: Buffer): void {
    if (this.#spare.length < SPARE_BUFFERS && buffer.length === OWN_READ_SIZE) this.#spare.push(buffer);
  }

  /** `view` (bytes of the last read) as a buffer its holder may keep: a copy when it lies in the shared buffer. */
  keep(view: Buffer): Buffer {
    return view.buffer === this.shared.buffer ? Buffer.from(view) : view;
  }
}
