import { Transform, type TransformCallback } from 'node:stream';

/** The error a BodyLimit fails with; forwarders answer it with 413. */
export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
  readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body over ${limit} bytes`);
  }
}

/**
 * Passes a request body through, failing once more than `limit` bytes went by. Used only for
 * bodies whose size is not announced (chunked); a Content-Length over the limit is refused
 * before anything is forwarded.
 */
export class BodyLimit extends Transform {
  #seen = 0;
  readonly #limit: number;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) done(new BodyTooLarge(this.#limit));
    else done(null, chunk);
  }
}
