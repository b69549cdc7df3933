import { randomBytes, randomFillSync } from 'node:crypto';

/** Bytes of node:tls's ticket keys: 16 name, 16 HMAC, 16 AES. */
export const TICKET_KEYS_BYTES = 48;

/** Where the keys are installed: the TLS server. */
export interface TicketKeyHolder {
  setTicketKeys(keys: Buffer): void;
  getTicketKeys(): Buffer;
}

/**
 * What a ticket callback answers node:tls: [result, hmacKey, aesKey] (decrypting), plus
 * [.., keyName, iv] (encrypting). Result 1: use the ticket; 2: use it and issue a new one;
 * 0: a key Baton no longer has (a full handshake). Node reads 16-byte keys even with 0.
 */
type TicketAnswer = [number, Buffer, Buffer] | [number, Buffer, Buffer, Buffer, Buffer];

/**
 * node:tls's own ticket callback on a server's context. Not public API (node's tests use it),
 * so it is looked for, not assumed: without it, the keys go in with setTicketKeys().
 */
interface TicketCallbackContext {
  enableTicketKeyCallback(): void;
  onticketkeycallback: ((name: Buffer, iv: Buffer, enc: boolean) => TicketAnswer) | undefined;
}

function callbackContext(holder: TicketKeyHolder): TicketCallbackContext | undefined {
  const context = (holder as { _sharedCreds?: { context?: Partial<TicketCallbackContext> } })._sharedCreds?.context;
  return typeof context?.enableTicketKeyCallback === 'function' ? (context as TicketCallbackContext) : undefined;
}

interface Key {
  readonly name: Buffer;
  readonly hmac: Buffer;
  readonly aes: Buffer;
  /** The answer to a ticket made with this key: resume and renew (made once, not per handshake). */
  readonly renew: TicketAnswer;
}

function keyOf(keys: Buffer): Key {
  const hmac = keys.subarray(16, 32);
  const aes = keys.subarray(32, 48);
  return { name: keys.subarray(0, 16), hmac, aes, renew: [2, hmac, aes] };
}

/** Bytes of a ticket's IV (AES-128-CBC). */
const IV_BYTES = 16;
/**
 * IVs drawn at once (one randomFillSync per this many tickets instead of a randomBytes per
 * ticket, which was a tenth of the JS a resumed handshake runs). node:tls copies the IV it is
 * given before the callback returns, so the pool is refilled in place.
 */
const IVS_PER_FILL = 256;

/**
 * Session ticket keys (resumption without server state): random at start, replaced every
 * `rotateMs`, and exported/imported so that a Baton self-upgrade hands them to the next process
 * and resumed sessions keep working.
 *
 * Baton answers node:tls's ticket callback itself (where the Node in use has it) for two
 * things node:tls alone does not do: a resumed session gets a new ticket (TLS 1.3 tickets are
 * meant for one use, RFC 8446 C.4; a client such as wrk or curl that keeps only its latest
 * ticket otherwise resumes every other time, since node:tls issues none on resumption), and a
 * ticket made with the key before the last rotation still resumes. Keys and ciphers are
 * node:tls's own (AES-128-CBC, HMAC-SHA256, the same 48-byte layout), so tickets pass between a
 * Baton that has the callback and one that has not.
 */
export class TicketKeys {
  readonly #holder: TicketKeyHolder;
  #timer: NodeJS.Timeout | undefined;
  #rotateMs: number;
  #current: Key;
  #previous: Key | undefined;
  readonly #ivs = Buffer.allocUnsafeSlow(IV_BYTES * IVS_PER_FILL);
  /** Where the next IV starts in #ivs; at its end, #ivs is refilled. */
  #ivAt = IV_BYTES * IVS_PER_FILL;

  constructor(holder: TicketKeyHolder, rotateMs: number) {
    this.#holder = holder;
    this.#rotateMs = rotateMs;
    this.#current = keyOf(Buffer.from(holder.getTicketKeys()));
  }

  start(): void {
    this.install();
    this.#schedule();
  }

  /**
   * Answer node:tls's ticket callback on the holder's current context; again after the holder
   * was given a new context (setSecureContext, a reload). Whether the callback is in use.
   */
  install(): boolean {
    const context = callbackContext(this.#holder);
    if (context === undefined) return false;
    context.enableTicketKeyCallback();
    context.onticketkeycallback = this.#onTicketKey;
    return true;
  }

  /** A new rotation period (a reload); the keys in use stay. */
  setRotation(ms: number): void {
    this.#rotateMs = ms;
    this.#schedule();
  }

  rotate(): void {
    this.#previous = this.#current;
    this.#set(randomBytes(TICKET_KEYS_BYTES));
  }

  export(): Buffer {
    return Buffer.concat([this.#current.name, this.#current.hmac, this.#current.aes]);
  }

  /** Install keys exported by another Baton (they replace, rather than follow, the keys in use); the rotation period starts again. */
  import(keys: Buffer): void {
    if (keys.length !== TICKET_KEYS_BYTES) throw new RangeError(`ticket keys: expected ${TICKET_KEYS_BYTES} bytes, got ${keys.length}`);
    this.#previous = undefined;
    this.#set(Buffer.from(keys));
    this.#schedule();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #set(keys: Buffer): void {
    this.#current = keyOf(keys);
    // Also where the callback is in use: node:tls's own keys stay the same as Baton's.
    this.#holder.setTicketKeys(keys);
  }

  #onTicketKey = (name: Buffer, _iv: Buffer, enc: boolean): TicketAnswer => {
    const k = this.#current;
    if (enc) return [1, k.hmac, k.aes, k.name, this.#nextIv()];
    if (name.equals(k.name)) return k.renew;
    const p = this.#previous;
    if (p !== undefined && name.equals(p.name)) return p.renew;
    return [0, k.hmac, k.aes];
  };

  /** A fresh random IV (a view of the pool, used by node:tls before the next one is drawn). */
  #nextIv(): Buffer {
    if (this.#ivAt === this.#ivs.length) {
      randomFillSync(this.#ivs);
      this.#ivAt = 0;
    }
    const at = this.#ivAt;
    this.#ivAt = at + IV_BYTES;
    return this.#ivs.subarray(at, at + IV_BYTES);
  }

  #schedule(): void {
    this.stop();
    this.#timer = setInterval(() => this.rotate(), this.#rotateMs);
    this.#timer.unref();
  }
}
