/**
 * The request methods llhttp knows, and what Baton's request head parser does with each.
 *
 * - `served`: Baton parses and forwards the request itself: the methods of RFC 9110 and 5789
 *   bar CONNECT and TRACE, QUERY, and the WebDAV/CalDAV methods (ordinary requests with ordinary
 *   bodies, which every reverse proxy passes on).
 * - `declined`: llhttp accepts them with HTTP/1.x, Baton leaves them to node:http: TRACE (the
 *   application or the request path decides whether to answer it), the rarer WebDAV binding
 *   methods, Subversion, UPnP, PURGE and Icecast's SOURCE.
 * - `connect`: CONNECT, refused with 405 (Baton is not a forward proxy).
 * - `preface`: PRI, the HTTP/2 connection preface, refused with 505.
 * - `rtsp`: RTSP-only methods; llhttp takes them only with an RTSP/x.y version (refused with
 *   505), and refuses them with HTTP/x.y (declined, so llhttp answers).
 */

/** What Baton does with a method (see above). */
export type MethodKind = 'served' | 'declined' | 'connect' | 'preface' | 'rtsp';

/** A method llhttp knows, and its kind. */
export interface Method {
  readonly name: string;
  readonly kind: MethodKind;
}

const KINDS: Record<MethodKind, readonly string[]> = {
  served: [
    'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'QUERY',
    'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'MKCALENDAR',
  ],
  declined: [
    'TRACE', 'ACL', 'BIND', 'REBIND', 'UNBIND', 'LINK', 'UNLINK', 'MKACTIVITY', 'CHECKOUT', 'MERGE',
    'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PURGE', 'SOURCE',
  ],
  connect: ['CONNECT'],
  preface: ['PRI'],
  rtsp: ['DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH'],
};

/** Every method llhttp knows, by name. */
export const METHODS: ReadonlyMap<string, Method> = new Map(
  (Object.keys(KINDS) as MethodKind[]).flatMap((kind) => KINDS[kind].map((name): [string, Method] => [name, { name, kind }])),
);

/** The longest method name. */
export const MAX_METHOD_LENGTH = Math.max(...[...METHODS.keys()].map((m) => m.length));

/** Methods by length, so a method is found from its bytes without making a string first. */
const BY_LENGTH: readonly (readonly Method[])[] = (() => {
  const t: Method[][] = Array.from({ length: MAX_METHOD_LENGTH + 1 }, () => []);
  for (const m of METHODS.values()) t[m.name.length]!.push(m);
  // The common ones first.
  for (const list of t) list.sort((a, b) => rank(a) - rank(b));
  return t;
})();

function rank(m: Method): number {
  const i = KINDS.served.indexOf(m.name);
  return i === -1 ? 100 : i;
}

/** The method spelled by `buf[0, len)` (case-sensitive, as llhttp), or undefined. */
export function methodOf(buf: Uint8Array, len: number): Method | undefined {
  if (len > MAX_METHOD_LENGTH) return undefined;
  const list = BY_LENGTH[len]!;
  for (let k = 0; k < list.length; k++) {
    const m = list[k]!;
    let i = 0;
    while (i < len && buf[i] === m.name.charCodeAt(i)) i++;
    if (i === len) return m;
  }
  return undefined;
}

/** Whether `buf[0, len)` begins some method's name (so more bytes may still make a method). */
export function isMethodPrefix(buf: Uint8Array, len: number): boolean {
  for (const name of METHODS.keys()) {
    if (name.length < len) continue;
    let i = 0;
    while (i < len && buf[i] === name.charCodeAt(i)) i++;
    if (i === len) return true;
  }
  return false;
}
