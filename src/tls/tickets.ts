import { randomBytes } from 'node:crypto';

/** Bytes of node:tls's ticket keys: 16 name, 16 HMAC, 16 AES. */
export const TICKET_KEYS_BYTES = 48;

/** Where the keys are installed: the TLS server. */
export interface TicketKeyHolder {
  setTicketKeys(keys: Buffer): void;
  getTicketKeys(): Buffer;
}

/**
 * Session ticket keys (resumption without server state): random at start, replaced every
 * `rotateMs`, and exported/imported so that a Baton self-upgrade hands them to the next process
 * and resumed sessions keep working. node:tls holds one key at a time, so a ticket issued before
 * a rotation falls back to a full handshake after it (once per client).
 */
export class TicketKeys {
  readonly #holder: TicketKeyHolder;
  #timer: NodeJS.Timeout | undefined;
  #rotateMs: number;

  constructor(holder: TicketKeyHolder, rotateMs: number) {
    this.#holder = holder;
    this.#rotateMs = rotateMs;
  }

  start(): void {
    this.#schedule();
  }

  /** A new rotation period (a reload); the keys in use stay. */
  setRotation(ms: number): void {
    this.#rotateMs = ms;
    this.#schedule();
  }

  rotate(): void {
    this.#holder.setTicketKeys(randomBytes(TICKET_KEYS_BYTES));
  }

  export(): Buffer {
    return Buffer.from(this.#holder.getTicketKeys());
  }

  /** Install keys exported by another Baton; the rotation period starts again. */
  import(keys: Buffer): void {
    if (keys.length !== TICKET_KEYS_BYTES) throw new RangeError(`ticket keys: expected ${TICKET_KEYS_BYTES} bytes, got ${keys.length}`);
    this.#holder.setTicketKeys(keys);
    this.#schedule();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    this.stop();
    this.#timer = setInterval(() => this.rotate(), this.#rotateMs);
    this.#timer.unref();
  }
}
