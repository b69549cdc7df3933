import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';

/**
 * A short error answer written straight to a socket, then the connection closed: for what is
 * refused before any request object exists (a head Baton rejects, a timeout, an upgrade that
 * cannot be served). `detail` is Baton's own text, never request input. `head`: the answer is
 * to a HEAD request, so it carries no body (RFC 9110 9.3.2), only its length.
 */
export function rawError(socket: Duplex, status: number, detail?: string, head = false): void {
  if (socket.destroyed) return;
  const reason = STATUS_CODES[status] ?? 'Error';
  const text = `${status} ${reason}${detail === undefined ? '' : ` (${detail})`}\n`;
  const body = head ? '' : text;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n${status === 503 ? 'retry-after: 1\r\n' : ''}\r\n${body}`,
  );
}

const HEAD = Buffer.from('HEAD ');

/** Whether the request line in `buf` is a HEAD one (its refusal then carries no body). */
export function isHead(buf: Buffer): boolean {
  return buf.length >= HEAD.length && buf.compare(HEAD, 0, HEAD.length, 0, HEAD.length) === 0;
}
