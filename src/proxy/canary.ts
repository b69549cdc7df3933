/**
 * Which side of a canary a client is on (`baton deploy --canary`), kept by a cookie: clients
 * that send it back stay on their side; clients without cookies (most API clients) are split
 * per request. The cookie names the canary's version, so the next canary draws again. Pure.
 */
import type { Side } from '../service.js';

export const CANARY_COOKIE_PREFIX = 'baton_canary_';
/** A day: long enough for a rollout, short enough not to follow a client for ever. */
const MAX_AGE_S = 86_400;

export interface SideChoice {
  side: Side;
  /** The Set-Cookie value to send with the answer when the side was just drawn. */
  setCookie: string | undefined;
}

/**
 * The side of a request with `headers` (flat) for `service`'s canary of `version` at `percent`;
 * `draw` gives a number in [0, 1) (Math.random, or a fixed sequence in tests).
 */
export function chooseSide(headers: readonly string[], service: string, version: string, percent: number, secure: boolean, draw: () => number): SideChoice {
  const name = CANARY_COOKIE_PREFIX + service;
  const kept = cookieValue(headers, name);
  if (kept === `canary-${version}`) return { side: 'canary', setCookie: undefined };
  if (kept === `stable-${version}`) return { side: 'stable', setCookie: undefined };
  const side: Side = draw() * 100 < percent ? 'canary' : 'stable';
  return { side, setCookie: `${name}=${side}-${version}; Path=/; Max-Age=${MAX_AGE_S}; SameSite=Lax; HttpOnly${secure ? '; Secure' : ''}` };
}

/** The side a cookie says, without drawing (WebSockets and the notice socket follow their page). */
export function sideOf(headers: readonly string[], service: string, version: string | undefined): Side {
  if (version === undefined) return 'stable';
  return cookieValue(headers, CANARY_COOKIE_PREFIX + service) === `canary-${version}` ? 'canary' : 'stable';
}

/** The value of cookie `name` in the Cookie fields of `headers`, if any. */
export function cookieValue(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const field = headers[i]!;
    if (field.length !== 6 || field.toLowerCase() !== 'cookie') continue;
    for (const pair of headers[i + 1]!.split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
    }
  }
  return undefined;
}
