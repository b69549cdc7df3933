import type { H1Limits } from './server.js';

/** After Baton ends a connection, how long the client may take to close its side (lingering close). */
export const LINGER_MS = 2000;

/**
 * What a connection's timeouts call for: closing it now ('destroy'), ending it once written
 * ('end'), a 408 to a head that came too slowly ('head_timeout'), or to a body that is still
 * arriving past `request_timeout` ('body_timeout'); undefined: nothing yet.
 */
export type Expiry = 'destroy' | 'end' | 'head_timeout' | 'body_timeout' | undefined;

/** What the connections of one server share for their timeouts. */
export interface TimeoutSettings {
  readonly limits: H1Limits;
  /** Stopping or handing over: an idle connection is ended after `closingIdleMs`. */
  readonly closing: boolean;
  readonly closingIdleMs: number;
}

/**
 * The timeouts of one HTTP/1.1 connection at `now`, from when it began ending (`closingSince`,
 * 0: it has not), when the head now awaited began (`headSince`, 0: none awaited), when it went
 * idle and when the request in flight began. `idle`: no request in flight and no body being
 * read; `partialHead`: bytes of the next head were read; `readingBody`: a body is arriving.
 */
export function expiry(
  now: number,
  s: TimeoutSettings,
  closingSince: number,
  headSince: number,
  idleSince: number,
  requestSince: number,
  idle: boolean,
  partialHead: boolean,
  readingBody: boolean,
): Expiry {
  const limits = s.limits;
  if (closingSince !== 0) return now - closingSince > LINGER_MS ? 'destroy' : undefined;
  if (idle) {
    if (headSince !== 0) {
      if (now - headSince <= limits.headersTimeoutMs) return undefined;
      // Slow or silent client: a partial head is answered 408, a silent one just closed.
      return partialHead ? 'head_timeout' : 'destroy';
    }
    if (limits.keepAliveTimeoutMs > 0 && now - idleSince > limits.keepAliveTimeoutMs) return 'destroy';
    // Handing over: a client that sent nothing for a while is not using this connection.
    if (s.closing && now - idleSince > s.closingIdleMs) return 'end';
    return undefined;
  }
  // A body still arriving past request_timeout: the client is too slow (or stalling on purpose).
  if (readingBody && limits.requestTimeoutMs > 0 && now - requestSince > limits.requestTimeoutMs) return 'body_timeout';
  return undefined;
}
