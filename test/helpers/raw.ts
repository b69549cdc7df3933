import net from 'node:net';

/**
 * Send raw bytes (optionally in timed pieces) and collect everything the server answers until
 * it closes the connection or `timeoutMs` passes.
 */
export function rawExchange(port: number, pieces: Array<string | Buffer | number>, timeoutMs = 5000): Promise<{ reply: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (c) => (reply += c.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const p of pieces) {
        if (done) return;
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else socket.write(p);
      }
    });
  });
}
