/**
 * Follows WebSocket frame boundaries in a byte stream without copying or decoding payloads,
 * so a close frame can be injected between frames (RFC 6455 5.4 allows control frames
 * between the fragments of a message, never inside a frame).
 */
export class FrameBoundary {
  /** Payload bytes left in the frame in progress. */
  #remaining = 0;
  /** Bytes of a header split across chunks. */
  #header = Buffer.alloc(14);
  #have = 0;

  /** True between frames: a frame may be written now without corrupting the stream. */
  get atBoundary(): boolean {
    return this.#remaining === 0 && this.#have === 0;
  }

  /** Follow a whole chunk. */
  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) at = this.#advance(chunk, at);
  }

  /**
   * Consume bytes of `chunk` from `from` until the frame in progress ends. Returns the offset
   * just past that end, or -1 when it does not end within this chunk (all of it consumed).
   */
  untilBoundary(chunk: Buffer, from = 0): number {
    if (this.atBoundary) return from;
    let at = from;
    while (at < chunk.length) {
      at = this.#advance(chunk, at);
      if (this.atBoundary) return at;
    }
    return -1;
  }

  #advance(chunk: Buffer, from: number): number {
    if (this.#remaining > 0) {
      const take = Math.min(this.#remaining, chunk.length - from);
      this.#remaining -= take;
      return from + take;
    }
    // Reading a header: 2 bytes, then the extended length and mask key they announce.
    let at = from;
    while (at < chunk.length) {
      this.#header[this.#have++] = chunk[at++]!;
      if (this.#have < 2) continue;
      const need = headerLength(this.#header[1]!);
      if (this.#have < need) continue;
      this.#remaining = payloadLength(this.#header);
      this.#have = 0;
      return at;
    }
    return at;
  }
}

function headerLength(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

function payloadLength(h: Buffer): number {
  const len7 = h[1]! & 0x7f;
  if (len7 === 126) return h.readUInt16BE(2);
  if (len7 === 127) return Number(h.readBigUInt64BE(2));
  return len7;
}

/**
 * An unmasked close frame (server to client) with a status code and a reason, cut to fit a
 * control frame (125 bytes of payload) at a UTF-8 character boundary.
 */
export function closeFrame(code: number, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > 123) {
    let end = 123;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--; // back off a continuation byte
    text = text.subarray(0, end);
  }
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88; // FIN + opcode 8 (close)
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
