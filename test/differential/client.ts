/**
 * The replay's client: one raw TCP connection from a chosen loopback address, the exact bytes of
 * a case written at once, and everything Baton answers collected until Baton closes the
 * connection or the case's time is up.
 */

import net from 'node:net';

export interface Reply {
  bytes: Buffer;
  /** Baton closed (FIN or reset) before the time was up. */
  closed: boolean;
  ms: number;
}

/**
 * `quietMs`: the case may legitimately leave Baton waiting for more (the bytes end inside a
 * message): give up that long after the last byte, not treating it as a failure. Otherwise
 * `timeoutMs` bounds the whole exchange.
 */
export function send(port: number, localAddress: string, bytes: Buffer, opts: { quietMs?: number; timeoutMs: number }): Promise<Reply> {
  return new Promise((resolve) => {
    const started = performance.now();
    const parts: Buffer[] = [];
    const socket = net.connect({ port, host: '127.0.0.1', localAddress, noDelay: true });
    let done = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(hard);
      clearTimeout(quiet);
      socket.destroy();
      resolve({ bytes: Buffer.concat(parts), closed, ms: performance.now() - started });
    };
    const hard = setTimeout(() => finish(false), opts.timeoutMs);
    const arm = (): void => {
      if (opts.quietMs === undefined) return;
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(false), opts.quietMs);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (c: Buffer) => {
      parts.push(c);
      arm();
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

/** Runs `jobs` with at most `width` in flight; resolves when all are done. */
export async function bounded<T>(items: readonly T[], width: number, job: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await job(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
