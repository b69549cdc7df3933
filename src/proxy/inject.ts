/**
 * `notify.inject` (issue 4): add the client script tag to HTML pages that lack it, as they
 * stream through. Pure: no sockets here; the exchange feeds each response chunk to the
 * push scanner that `injection` returns, fed by the exchange with each response chunk.
 *
 * Only `text/html` 200 answers to GET-like requests (not HEAD) with no Content-Encoding (or
 * `identity`) and an ASCII-compatible charset are rewritten: a compressed body is passed
 * untouched, as it cannot be rewritten without decompressing it. A rewritten answer loses its
 * Content-Length (it goes chunked), its Accept-Ranges and Content-MD5, and a strong ETag
 * becomes weak.
 *
 * The tag goes before the first `</head>` (case-insensitive, tag split across chunks or not),
 * else before the first `</body>`, else at the end. Comments, `<script>` and `<style>` contents
 * are skipped, so a `"</head>"` inside an inline script is not mistaken for the real one. A page
 * that already names `/_baton/client.js` before that point (in a tag or an inline script) is
 * passed through untouched. One that includes it only after `</head>` gets it twice, which is
 * harmless: the client script guards against double inclusion (`window.Baton`).
 *
 * Bytes pass through as they come: the only thing held back is the tail of a chunk that may be
 * the start of a token (at most 16 bytes), until the next chunk says what it is.
 */

/** What Baton inserts. */
export const CLIENT_SCRIPT_TAG = '<script src="/_baton/client.js" defer></script>';

/** Where the tag went: before `</head>`, before `</body>`, at the end, or nowhere (already there). */
export type InjectOutcome = 'head' | 'body' | 'end' | 'present';

/**
 * For a service with `notify.inject: true`: the headers and scanner that rewrite this response,
 * or undefined when it is not one to rewrite.
 */
export function injection(method: string, statusCode: number, headers: readonly string[]): { headers: string[]; injector: ScriptInjector } | undefined {
  if (!shouldInject(method, statusCode, headers)) return undefined;
  return { headers: rewrittenHeaders(headers), injector: new ScriptInjector() };
}

/**
 * Whether a response may get the tag: a 200 `text/html` body in an ASCII-compatible charset,
 * not compressed, to a request that gets a body. `headers` is a flat raw list [name, value, ...].
 */
export function shouldInject(method: string, statusCode: number, headers: readonly string[]): boolean {
  if (statusCode !== 200 || method === 'HEAD') return false;
  let type: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    const value = headers[i + 1]!;
    if (name === 'content-type') type ??= value; // the first one counts, as in node:http
    else if (name === 'content-encoding' && !isIdentity(value)) return false;
  }
  if (type === undefined) return false;
  const [media, ...params] = type.split(';');
  if (media!.trim().toLowerCase() !== 'text/html') return false;
  for (const p of params) {
    const [key, value = ''] = p.split('=');
    // The scanner looks for ASCII bytes: a UTF-16/32 page would be corrupted, not rewritten.
    if (key!.trim().toLowerCase() === 'charset' && /^"?utf-?(16|32)/i.test(value.trim())) return false;
  }
  return true;
}

function isIdentity(value: string): boolean {
  return value.split(',').every((v) => {
    const t = v.trim().toLowerCase();
    return t === '' || t === 'identity';
  });
}

const DROPPED = new Set(['content-length', 'accept-ranges', 'content-md5']);

/** The headers of a rewritten body: no length (chunked), no ranges, a weak validator. */
export function rewrittenHeaders(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const lower = name.toLowerCase();
    if (DROPPED.has(lower)) continue;
    const value = headers[i + 1]!;
    // The bytes differ from the upstream's, so the entity is only weakly the same (RFC 9110 8.8.1).
    out.push(name, lower === 'etag' && value.startsWith('"') ? `W/${value}` : value);
  }
  return out;
}

/** What the scanner is inside of: markup, or content where `</head>` means nothing. */
type ScanState = 'markup' | 'comment' | 'script' | 'style';

const END = '[\\t\\n\\f\\r />]'; // what may follow a tag name in HTML
/** The tokens that matter in each state, searched in a latin1 view (one char per byte). */
const TOKENS: Record<ScanState, RegExp> = {
  markup: new RegExp(`<!--|<(?:script|style)${END}|</(?:head|body)${END}|/_baton/client\\.js`, 'gi'),
  comment: /-->/g,
  script: new RegExp(`</script${END}|/_baton/client\\.js`, 'gi'),
  style: new RegExp(`</style${END}`, 'gi'),
};
/** The same tokens, without what follows a tag name: a chunk that ends in a prefix of one is held. */
const PREFIXES: Record<ScanState, readonly string[]> = {
  markup: ['<!--', '<script', '<style', '</head', '</body', '/_baton/client.js'],
  comment: ['-->'],
  script: ['</script', '/_baton/client.js'],
  style: ['</style'],
};
const EMPTY = Buffer.alloc(0);

/**
 * Passes HTML through, adding the client script tag once (see the module comment): each
 * `feed` returns the pieces to send on now, `end` the last ones. `outcome` says where the tag
 * went, once known.
 */
export class ScriptInjector {
  outcome: InjectOutcome | undefined;
  #state: ScanState = 'markup';
  /** The tail of the previous chunk that may start a token (at most 16 bytes). */
  #held: Buffer = EMPTY;
  readonly #tag: Buffer;

  constructor(tag: string = CLIENT_SCRIPT_TAG) {
    this.#tag = Buffer.from(tag);
  }

  feed(chunk: Buffer): Buffer[] {
    if (this.outcome !== undefined) return [chunk];
    const buf = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    this.#held = EMPTY;
    return this.#scan(buf);
  }

  end(): Buffer[] {
    if (this.outcome !== undefined) return [];
    this.outcome = 'end';
    return this.#held.length > 0 ? [this.#held, this.#tag] : [this.#tag];
  }

  #scan(buf: Buffer): Buffer[] {
    const text = buf.toString('latin1');
    let from = 0;
    for (;;) {
      const re = TOKENS[this.#state];
      re.lastIndex = from;
      const m = re.exec(text);
      if (m === null) break;
      from = m.index + m[0].length;
      const token = m[0].toLowerCase();
      if (token === '/_baton/client.js') return this.#finish('present', buf);
      if (token.startsWith('</head')) return this.#finish('head', buf, m.index);
      if (token.startsWith('</body')) return this.#finish('body', buf, m.index);
      this.#state = token === '<!--' ? 'comment' : token.startsWith('<script') ? 'script' : token.startsWith('<style') ? 'style' : 'markup';
    }
    const keep = partialTokenLength(text, from, PREFIXES[this.#state]);
    // A copy, so the held bytes do not pin the whole chunk in memory.
    if (keep > 0) this.#held = Buffer.from(buf.subarray(buf.length - keep));
    return keep < buf.length ? [buf.subarray(0, buf.length - keep)] : [];
  }

  #finish(outcome: InjectOutcome, buf: Buffer, at?: number): Buffer[] {
    this.outcome = outcome;
    if (at === undefined) return [buf];
    return at > 0 ? [buf.subarray(0, at), this.#tag, buf.subarray(at)] : [this.#tag, buf];
  }
}

/** The length of the longest tail of `text` (past `from`) that some token starts with. */
function partialTokenLength(text: string, from: number, prefixes: readonly string[]): number {
  const longest = Math.max(...prefixes.map((p) => p.length));
  for (let k = Math.min(text.length - from, longest); k > 0; k--) {
    const tail = text.slice(text.length - k).toLowerCase();
    if (prefixes.some((p) => p.startsWith(tail))) return k;
  }
  return 0;
}
