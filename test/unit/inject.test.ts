import { describe, expect, it } from 'vitest';
import { CLIENT_SCRIPT_TAG, ScriptInjector, injection, rewrittenHeaders, shouldInject, type InjectOutcome } from '../../src/proxy/inject.js';

const TAG = CLIENT_SCRIPT_TAG;

/** Streams `chunks` through a fresh injector; resolves with what came out and where the tag went. */
async function run(chunks: Array<string | Buffer>): Promise<{ out: string; bytes: Buffer; outcome: InjectOutcome | undefined }> {
  const t = new ScriptInjector();
  const parts: Buffer[] = [];
  for (const c of chunks) parts.push(...t.feed(typeof c === 'string' ? Buffer.from(c) : c));
  parts.push(...t.end());
  const bytes = Buffer.concat(parts);
  return { out: bytes.toString('utf8'), bytes, outcome: t.outcome };
}

/** Every way to cut `s` in two. */
function splits(s: string): Array<[string, string]> {
  return Array.from({ length: s.length + 1 }, (_, i) => [s.slice(0, i), s.slice(i)] as [string, string]);
}

const PAGE = '<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>';

describe('ScriptInjector', () => {
  it('inserts the tag right before </head>', async () => {
    const { out, outcome } = await run([PAGE]);
    expect(out).toBe(PAGE.replace('</head>', `${TAG}</head>`));
    expect(outcome).toBe('head');
  });

  it('finds </head> wherever the body is cut into two chunks', async () => {
    for (const [a, b] of splits(PAGE)) {
      const { out } = await run([a, b]);
      expect(out, `split at ${a.length}`).toBe(PAGE.replace('</head>', `${TAG}</head>`));
    }
  });

  it('finds </head> when the body arrives one byte at a time', async () => {
    const { out } = await run([...Buffer.from(PAGE)].map((b) => Buffer.from([b])));
    expect(out).toBe(PAGE.replace('</head>', `${TAG}</head>`));
  });

  it('matches </head> in any letter case and with whitespace before >', async () => {
    for (const close of ['</HEAD>', '</HeAd>', '</head >', '</head\n>']) {
      const page = `<html><HEAD><title>x</title>${close}<body></body></html>`;
      const { out } = await run([page]);
      expect(out).toBe(page.replace(close, TAG + close));
    }
  });

  it('is not fooled by tags whose names start with head or body', async () => {
    const page = '<html><body><header>h</header><bodyguard></bodyguard></body></html>';
    const { out, outcome } = await run([page]);
    expect(out).toBe(page.replace('</body>', `${TAG}</body>`));
    expect(outcome).toBe('body');
  });

  it('inserts before </body> when there is no </head>', async () => {
    const page = '<!doctype html><title>t</title><p>no head</p></BODY></html>';
    for (const [a, b] of splits(page)) {
      const { out, outcome } = await run([a, b]);
      expect(out, `split at ${a.length}`).toBe(page.replace('</BODY>', `${TAG}</BODY>`));
      expect(outcome).toBe('body');
    }
  });

  it('appends the tag at the end when there is neither </head> nor </body>', async () => {
    const page = '<p>a fragment, ends with a partial </he';
    const { out, outcome } = await run([page.slice(0, 10), page.slice(10)]);
    expect(out).toBe(page + TAG);
    expect(outcome).toBe('end');
  });

  it('appends the tag to an empty body', async () => {
    const { out, outcome } = await run([]);
    expect(out).toBe(TAG);
    expect(outcome).toBe('end');
  });

  it('passes a page that already includes /_baton/client.js untouched, however it is cut', async () => {
    const page = `<html><head><script src="/_baton/client.js" defer></script></head><body></body></html>`;
    for (const [a, b] of splits(page)) {
      const { out, outcome } = await run([a, b]);
      expect(out, `split at ${a.length}`).toBe(page);
      expect(outcome).toBe('present');
    }
  });

  it('counts a script that loads /_baton/client.js itself as present', async () => {
    const page = `<html><head><script>var s = document.createElement('script'); s.src = '/_baton/client.js?v=2';</script></head></html>`;
    expect(await run([page])).toMatchObject({ out: page, outcome: 'present' });
  });

  it('adds the tag again when the page includes client.js only after </head> (the client guards)', async () => {
    const page = `<html><head></head><body><script src="/_baton/client.js"></script></body></html>`;
    const { out } = await run([page]);
    expect(out.split('/_baton/client.js').length - 1).toBe(2);
  });

  it('skips </head> and </body> inside comments, scripts and styles', async () => {
    const page =
      '<html><HEAD><!-- </head> --><script>var s = "</head></body>";</script>' +
      '<style>p::after { content: "</head>" }</style><!----></head><body></body></html>';
    const expected = page.replace('<!----></head>', `<!---->${TAG}</head>`);
    for (const [a, b] of splits(page)) {
      const { out } = await run([a, b]);
      expect(out, `split at ${a.length}`).toBe(expected);
    }
  });

  it('ignores a mention of client.js inside a comment', async () => {
    const page = '<html><head><!-- <script src="/_baton/client.js"></script> --></head></html>';
    const { out, outcome } = await run([page]);
    expect(outcome).toBe('head');
    expect(out).toBe(page.replace('--></head>', `-->${TAG}</head>`));
  });

  it('keeps every byte as it was, multi-byte characters cut across chunks included', async () => {
    const page = Buffer.from('<html><head><title>Größe 日本語 🎉</title></head><body>ü</body></html>');
    for (let i = 0; i <= page.length; i++) {
      const { bytes } = await run([page.subarray(0, i), page.subarray(i)]);
      const at = page.indexOf('</head>');
      expect(Buffer.compare(bytes, Buffer.concat([page.subarray(0, at), Buffer.from(TAG), page.subarray(at)])), `split at ${i}`).toBe(0);
    }
  });

  it('streams a 32 MiB body without buffering it: at most 16 bytes are ever held back', async () => {
    const t = new ScriptInjector();
    let emitted = 0;
    // No </head> nor </body>, and every chunk ends in a possible token start, the worst case.
    const chunk = Buffer.from('x'.repeat(64 * 1024 - 16) + '/_baton/client.j'.slice(0, 16));
    let written = 0;
    let maxHeld = 0;
    for (let i = 0; i < 512; i++) {
      for (const piece of t.feed(chunk)) emitted += piece.length;
      written += chunk.length;
      maxHeld = Math.max(maxHeld, written - emitted);
    }
    for (const piece of t.end()) emitted += piece.length;
    expect(maxHeld).toBeLessThanOrEqual(16);
    expect(emitted).toBe(written + Buffer.byteLength(TAG));
    expect(t.outcome).toBe('end');
  });

  it('passes later chunks through as they come once the tag is in', async () => {
    const t = new ScriptInjector();
    t.feed(Buffer.from('<head></head>'));
    const later = Buffer.from('<body>streamed later</body>');
    expect(t.feed(later)).toEqual([later]);
    expect(t.feed(later)[0]).toBe(later);
    expect(t.end()).toEqual([]);
  });
});

const html = ['Content-Type', 'text/html; charset=utf-8', 'Content-Length', '120'];

describe('shouldInject', () => {
  it('accepts a 200 text/html answer to GET', () => {
    expect(shouldInject('GET', 200, html)).toBe(true);
    expect(shouldInject('POST', 200, ['content-type', 'TEXT/HTML'])).toBe(true);
    expect(shouldInject('GET', 200, ['content-type', 'text/html;charset="UTF-8"', 'content-encoding', 'identity'])).toBe(true);
  });

  it('refuses other statuses and HEAD', () => {
    for (const status of [201, 204, 206, 304, 404, 500]) expect(shouldInject('GET', status, html), String(status)).toBe(false);
    expect(shouldInject('HEAD', 200, html)).toBe(false);
  });

  it('refuses other or missing content types', () => {
    for (const type of ['text/plain', 'application/xhtml+xml', 'text/htmlx', 'application/json']) {
      expect(shouldInject('GET', 200, ['content-type', type]), type).toBe(false);
    }
    expect(shouldInject('GET', 200, ['content-length', '3'])).toBe(false);
  });

  it('refuses compressed bodies, whatever the coding', () => {
    for (const coding of ['gzip', 'br', 'deflate', 'zstd', 'identity, gzip']) {
      expect(shouldInject('GET', 200, [...html, 'Content-Encoding', coding]), coding).toBe(false);
    }
  });

  it('refuses charsets that are not ASCII-compatible', () => {
    expect(shouldInject('GET', 200, ['content-type', 'text/html; charset=utf-16le'])).toBe(false);
    expect(shouldInject('GET', 200, ['content-type', 'text/html; charset="UTF-32"'])).toBe(false);
    expect(shouldInject('GET', 200, ['content-type', 'text/html; charset=iso-8859-1'])).toBe(true);
  });
});

describe('rewrittenHeaders', () => {
  it('drops the length and ranges, weakens a strong ETag, keeps the rest in order', () => {
    const out = rewrittenHeaders(['Content-Type', 'text/html', 'content-length', '120', 'ETag', '"abc"', 'Accept-Ranges', 'bytes', 'x-app-version', 'v1', 'Content-MD5', 'x']);
    expect(out).toEqual(['Content-Type', 'text/html', 'ETag', 'W/"abc"', 'x-app-version', 'v1']);
  });

  it('leaves a weak ETag as it is', () => {
    expect(rewrittenHeaders(['etag', 'W/"abc"'])).toEqual(['etag', 'W/"abc"']);
  });
});

describe('injection', () => {
  it('gives new headers and an injector for an HTML page', () => {
    const r = injection('GET', 200, html);
    expect(r?.headers).toEqual(['Content-Type', 'text/html; charset=utf-8']);
    expect(r?.injector).toBeInstanceOf(ScriptInjector);
  });

  it('leaves a gzip page alone', () => {
    expect(injection('GET', 200, [...html, 'content-encoding', 'gzip'])).toBeUndefined();
  });
});
