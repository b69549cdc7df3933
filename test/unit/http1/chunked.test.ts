import { describe, expect, test } from 'vitest';
import { ChunkedDecoder, type ChunkedLimits } from '../../../src/http1/chunked.js';
import { ParseError } from '../../../src/http1/parse-error.js';

interface Decoded {
  end: number;
  data: string;
  trailers: readonly string[];
}

function collect(list: Buffer[], data: Buffer): void {
  list.push(Buffer.from(data));
}

/** Decodes `text` fed in pieces of `step` bytes (all at once by default); `end` is an offset into `text`. */
function decode(text: string, step = Infinity, limits?: ChunkedLimits): Decoded {
  const bytes = Buffer.from(text, 'latin1');
  const d = new ChunkedDecoder(limits);
  const parts: Buffer[] = [];
  for (let from = 0; from < bytes.length; from += step) {
    const piece = bytes.subarray(from, Math.min(bytes.length, from + step));
    const end = d.feed(piece, 0, collect, parts);
    if (end !== -1) return { end: from + end, data: Buffer.concat(parts).toString('latin1'), trailers: d.trailers };
  }
  return { end: -1, data: Buffer.concat(parts).toString('latin1'), trailers: d.trailers };
}

function codeOf(text: string, step = Infinity): string | undefined {
  try {
    decode(text, step);
  } catch (e) {
    if (e instanceof ParseError) return e.code;
    throw e;
  }
  return undefined;
}

describe('ChunkedDecoder: bodies', () => {
  test('chunks decode to their data; the offset past the last chunk comes back', () => {
    expect(decode('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT')).toEqual({ end: 26, data: 'hello world', trailers: [] });
  });

  test('fed one byte at a time, the same body and end', () => {
    const text = '5\r\nhello\r\nA;x=y;z="q\\"x"\r\n0123456789\r\n0\r\nT: v\r\n\r\nNEXT';
    expect(decode(text, 1)).toEqual(decode(text));
  });

  test('hex sizes in either case, with leading zeros', () => {
    expect(decode('000a\r\n0123456789\r\nA\r\n0123456789\r\n00\r\n\r\n').data).toBe('01234567890123456789');
  });

  test('data runs are views into the buffer fed, not copies', () => {
    const buf = Buffer.from('3\r\nabc\r\n0\r\n\r\n');
    const views: Buffer[] = [];
    new ChunkedDecoder().feed(buf, 0, (list: Buffer[], d) => list.push(d), views);
    expect(views).toHaveLength(1);
    expect(views[0]!.buffer).toBe(buf.buffer);
  });

  test('feeding starts at the offset given', () => {
    const buf = Buffer.from('HEAD2\r\nhi\r\n0\r\n\r\n');
    const parts: Buffer[] = [];
    expect(new ChunkedDecoder().feed(buf, 4, collect, parts)).toBe(buf.length);
    expect(Buffer.concat(parts).toString()).toBe('hi');
  });

  test('chunk extensions, token or quoted values, are read and dropped', () => {
    expect(decode('3;a;b=c;d="e f\\"g"\r\nabc\r\n0;last\r\n\r\n')).toMatchObject({ data: 'abc', end: 35 });
  });

  test('trailers are kept as a flat list, values without OWS', () => {
    expect(decode('1\r\nx\r\n0\r\nExpires: never  \r\nX-Sum:\tabc\r\n\r\n')).toMatchObject({ data: 'x', trailers: ['Expires', 'never', 'X-Sum', 'abc'] });
  });

  test('a message split right before its last LF is not over', () => {
    expect(decode('0\r\n\r')).toMatchObject({ end: -1 });
  });

  test('after the end, feeding returns at once', () => {
    const d = new ChunkedDecoder();
    expect(d.feed(Buffer.from('0\r\n\r\n'), 0, collect, [])).toBe(5);
    expect(d.done).toBe(true);
    expect(d.feed(Buffer.from('more'), 0, collect, [])).toBe(0);
  });

  test('reset readies the decoder for the next body', () => {
    const d = new ChunkedDecoder();
    d.feed(Buffer.from('0\r\nA: b\r\n\r\n'), 0, collect, []);
    d.reset();
    expect(d.done).toBe(false);
    expect(d.trailers).toEqual([]);
    expect(d.feed(Buffer.from('1\r\nz\r\n0\r\n\r\n'), 0, collect, [])).toBe(11);
  });
});

describe('ChunkedDecoder: as strict as llhttp (issue 17)', () => {
  const cases: [string, string, string][] = [
    ['whitespace after the size', '5 \r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['HTAB after the size', '5\t\r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['junk after the size', '5 junk\r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['whitespace before the size', ' 5\r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['no size at all', '\r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['a signed size', '-5\r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['an empty extension (2;)', '2;\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['an empty extension name (2;=x)', '2;=x\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['two semicolons (2;;a)', '2;;a\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['an empty extension value (2;a=)', '2;a=\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['whitespace around the extension', '2 ;a\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_SIZE'],
    ['whitespace inside the extension', '2;a = b\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['NUL in an extension', '2;a\x00b\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['a CTL in a quoted extension', '2;a="\x01"\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['an unterminated quoted extension', '2;a="x\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['a token run into a quoted string', '2;a=b"c"\r\nhi\r\n0\r\n\r\n', 'HTTP1_CHUNK_EXTENSION'],
    ['CR inside extension whitespace (http-garden)', '2;a=b\r\r\nhi\r\n0\r\n\r\n', 'HTTP1_LINE_ENDING'],
    ['a bare LF after the size', '2\nhi\r\n0\r\n\r\n', 'HTTP1_LINE_ENDING'],
    ['a bare LF after the data', '2\r\nhi\n0\r\n\r\n', 'HTTP1_LINE_ENDING'],
    ['a bare LF after an extension', '2;a\nhi\r\n0\r\n\r\n', 'HTTP1_LINE_ENDING'],
    ['a bare LF ending the trailers', '0\r\n\n', 'HTTP1_LINE_ENDING'],
    ['a bare LF in a trailer', '0\r\nA: b\nX: y\r\n\r\n', 'HTTP1_LINE_ENDING'],
    ['a CR not followed by LF after the size', '2\rhi\r\n0\r\n\r\n', 'HTTP1_LINE_ENDING'],
    ['data longer than its size', '2\r\nhello\r\n0\r\n\r\n', 'HTTP1_CHUNK_DATA'],
    ['a size past 2^53', '20000000000000\r\n', 'HTTP1_CHUNK_SIZE_OVERFLOW'],
    ['a response head swallowed as trailers', '0\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'HTTP1_TRAILER'],
    ['a trailer without a colon', '0\r\nfoo\r\n\r\n', 'HTTP1_TRAILER'],
    ['whitespace before a trailer colon', '0\r\nA : b\r\n\r\n', 'HTTP1_TRAILER'],
    ['an obs-folded trailer', '0\r\nA: b\r\n c\r\n\r\n', 'HTTP1_TRAILER'],
    ['NUL in a trailer value', '0\r\nA: b\x00\r\n\r\n', 'HTTP1_TRAILER'],
    ['Content-Length as a trailer', '0\r\nContent-Length: 5\r\n\r\n', 'HTTP1_TRAILER'],
    ['Transfer-Encoding as a trailer', '0\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP1_TRAILER'],
    ['Connection as a trailer (llhttp closes the connection on it)', '0\r\nConnection: close\r\n\r\n', 'HTTP1_TRAILER'],
    ['Proxy-Connection as a trailer', '0\r\nProxy-Connection: close\r\n\r\n', 'HTTP1_TRAILER'],
    ['Upgrade as a trailer', '0\r\nUpgrade: h2c\r\n\r\n', 'HTTP1_TRAILER'],
  ];
  for (const [what, text, code] of cases) {
    test(`${what} is refused (${code})`, () => {
      expect(codeOf(text)).toBe(code);
      expect(codeOf(text, 1)).toBe(code);
    });
  }

  test('a chunk-size line longer than the limit is refused', () => {
    expect(codeOf(`1;${'a'.repeat(5000)}\r\nx\r\n0\r\n\r\n`)).toBe('HTTP1_CHUNK_SIZE_OVERFLOW');
    expect(codeOf(`${'0'.repeat(5000)}1\r\nx\r\n0\r\n\r\n`)).toBe('HTTP1_CHUNK_SIZE_OVERFLOW');
  });

  test('trailers past maxTrailerBytes or maxTrailers are refused', () => {
    const limits = { maxTrailerBytes: 20, maxTrailers: 2, maxSizeLineBytes: 100 };
    expect(() => decode(`0\r\nX: ${'a'.repeat(30)}\r\n\r\n`, Infinity, limits)).toThrow(expect.objectContaining({ code: 'HTTP1_TRAILERS_TOO_LARGE' }));
    expect(() => decode('0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', Infinity, { ...limits, maxTrailerBytes: 100 })).toThrow(expect.objectContaining({ code: 'HTTP1_TRAILERS_TOO_LARGE' }));
    expect(decode('0\r\nA: 1\r\nB: 2\r\n\r\n', Infinity, { ...limits, maxTrailerBytes: 100 }).trailers).toEqual(['A', '1', 'B', '2']);
  });

  test('the error says how far into the body it is', () => {
    try {
      decode('5\r\nhello\r\n1 x', 3);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).offset).toBe(11);
    }
  });

  test('once refused, every later feed throws the same error', () => {
    const d = new ChunkedDecoder();
    expect(() => d.feed(Buffer.from('z'), 0, collect, [])).toThrow(ParseError);
    expect(() => d.feed(Buffer.from('0\r\n\r\n'), 0, collect, [])).toThrow(ParseError);
  });
});
