/**
 * Writing one body chunk to a socket, after the head held back to go out with it (if any), in
 * chunked framing or as it is: the same for a response to a client (proxy/h1/downstream.ts) and
 * a request to an upstream (upstream/connection.ts).
 */
import type { Socket } from 'node:net';
import { chunkPrefix } from './head-writer.js';

/**
 * Body chunks up to this size go out with what precedes them (head, chunk framing) as one latin1
 * string (byte for byte the same): one write, where cork, two or three writes and a writev cost
 * more than the copy.
 */
export const ONE_STRING_MAX = 2048;

/**
 * Writes `chunk` (not empty) to `socket`, preceded by `head` unless undefined, framed as a chunk
 * when `chunked`. Returns what the last `socket.write` returned: false, wait for 'drain'.
 */
export function writeBodyChunk(socket: Socket, head: string | undefined, chunk: Buffer, chunked: boolean): boolean {
  if (chunked) {
    const prefix = head === undefined ? chunkPrefix(chunk.length) : head + chunkPrefix(chunk.length);
    if (chunk.length <= ONE_STRING_MAX) return socket.write(prefix + chunk.toString('latin1') + '\r\n', 'latin1');
    socket.cork();
    socket.write(prefix, 'latin1');
    socket.write(chunk);
    const ok = socket.write('\r\n', 'latin1');
    socket.uncork();
    return ok;
  }
  if (head === undefined) return socket.write(chunk);
  if (chunk.length <= ONE_STRING_MAX) return socket.write(head + chunk.toString('latin1'), 'latin1');
  socket.cork();
  socket.write(head, 'latin1');
  const ok = socket.write(chunk);
  socket.uncork();
  return ok;
}
