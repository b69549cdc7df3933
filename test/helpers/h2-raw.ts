/**
 * A raw HTTP/2 client over TLS, for requests node:http2's client refuses to send (connection
 * fields, CR or LF in a value, a Content-Length its DATA does not match): frames written by
 * hand (RFC 9113), the header block as HPACK literals without indexing (RFC 7541 6.2.2, no
 * Huffman), so any name and value bytes go out as given. What comes back is kept as frames; the
 * answer's `:status` is read when the server sent it as a static-table index (as nghttp2 does
 * for 200, 204, 206, 304, 400, 404 and 500).
 */
import tls from 'node:tls';

const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

export interface H2Outcome {
  /** The answer's status, when one came as a static-table index; 0 for another status. */
  status: number | undefined;
  /** RST_STREAM's error code for stream 1, if the server reset it. */
  reset: number | undefined;
  /** GOAWAY's error code, if the server ended the session. */
  goaway: number | undefined;
  /** DATA of stream 1. */
  body: string;
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with a 7-bit prefix (the string-length form, H = 0). */
function length7(n: number): Buffer {
  if (n < 127) return Buffer.from([n]);
  const out = [127];
  let rest = n - 127;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** A literal header field without indexing, new name (0x00), both strings raw. */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00]), length7(n.length), n, length7(v.length), v]);
}

/**
 * One request on stream 1 of a new connection: `fields` in order (pseudo-headers first, as
 * given), then `data` as DATA frames, the last one ending the stream. Resolves once stream 1
 * ended, was reset, the session went away or closed, or `timeoutMs` passed.
 */
export function h2RawRequest(port: number, ca: string, fields: Array<[string, string]>, data: string[] = [], timeoutMs = 5000): Promise<H2Outcome> {
  return new Promise((resolve) => {
    const out: H2Outcome = { status: undefined, reset: undefined, goaway: undefined, body: '' };
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['h2'] });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('secureConnect', () => {
      const block = Buffer.concat(fields.map(([n, v]) => literal(n, v)));
      socket.write(Buffer.concat([Buffer.from(PREFACE, 'latin1'), frame(SETTINGS, 0, 0, Buffer.alloc(0)), frame(HEADERS, END_HEADERS | (data.length === 0 ? END_STREAM : 0), 1, block)]));
      data.forEach((d, i) => socket.write(frame(DATA, i === data.length - 1 ? END_STREAM : 0, 1, Buffer.from(d, 'latin1'))));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) return;
        const type = buf[3]!;
        const flags = buf[4]!;
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === SETTINGS && (flags & ACK) === 0) socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
        else if (type === GOAWAY) {
          out.goaway = payload.readUInt32BE(4);
          return finish();
        } else if (stream === 1 && type === RST_STREAM) {
          out.reset = payload.readUInt32BE(0);
          return finish();
        } else if (stream === 1 && type === HEADERS) {
          // The first field of a response block is :status; indexed (1xxxxxxx) for the common ones.
          if (out.status === undefined) out.status = (payload[0]! & 0x80) !== 0 ? (STATIC_STATUS[payload[0]! & 0x7f] ?? 0) : 0;
          if ((flags & END_STREAM) !== 0) return finish();
        } else if (stream === 1 && type === DATA) {
          out.body += payload.toString('latin1');
          if ((flags & END_STREAM) !== 0) return finish();
        }
      }
    });
  });
}
