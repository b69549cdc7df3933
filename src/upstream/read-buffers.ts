export const READ_SIZE = 64 * 1024;
/** A read at least this large, while a body streams, makes the next read go to a buffer of its own. */
export const LARGE_READ = 16 * 1024;

/**
 * The read buffer a transport's sockets share. Each socket read with `onread` keeps reading
 * into the buffer its generator last gave it, so a buffer handed to one socket is in use by
 * every socket given it: bytes read into the shared one must be copied out (`keep`) before
 * they outlive the read. A socket streaming a large body reads into buffers of its own instead
 * (`fresh`), which are handed on whole, never copied.
 */
export class ReadBuffers {
  readonly shared = Buffer.allocUnsafe(READ_SIZE);

  /** A buffer for one read, given away with its bytes. */
  fresh(): Buffer {
    return Buffer.allocUnsafe(READ_SIZE);
  }

  /** `view` (bytes of the last read) as a buffer its holder may keep: a copy when it lies in the shared buffer. */
  keep(view: Buffer): Buffer {
    return view.buffer === this.shared.buffer ? Buffer.from(view) : view;
  }
}
