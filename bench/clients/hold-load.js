/**
 * The hold-queue load, forked on the load core: `count` connections, one GET each, sent while
 * the service is paused; records when each answer's first byte arrives and its status line.
 *   {cmd: 'open', port, count, batch} -> {type: 'opened', connected, failed, ms}
 *   {cmd: 'wait', timeoutMs}          -> {type: 'answers', answered, ok, other, errors, first, last}
 */
import net from 'node:net';

const now = () => performance.timeOrigin + performance.now();
const sockets = [];
let answered = 0;
let ok = 0;
let other = 0;
let errors = 0;
let first = Infinity;
let last = 0;
let waiter;

function settle() {
  if (waiter !== undefined && answered + errors >= sockets.length) waiter();
}

function connect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = false;
    s.once('connect', () => {
      s.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n');
      sockets.push(s);
      resolve(true);
    });
    s.on('data', (chunk) => {
      if (got) return;
      got = true;
      const t = now();
      first = Math.min(first, t);
      last = Math.max(last, t);
      answered++;
      if (chunk.toString('latin1', 0, 12) === 'HTTP/1.1 200') ok++;
      else other++;
      s.destroy();
      settle();
    });
    s.on('error', () => {
      if (got) return;
      got = true;
      errors++;
      settle();
      resolve(false);
    });
  });
}

process.on('message', async (msg) => {
  if (msg.cmd === 'open') {
    const started = now();
    let failed = 0;
    for (let i = 0; i < msg.count; i += msg.batch) {
      const r = await Promise.all(Array.from({ length: Math.min(msg.batch, msg.count - i) }, () => connect(msg.port)));
      failed += r.filter((x) => !x).length;
    }
    process.send({ type: 'opened', connected: sockets.length, failed, ms: now() - started });
  } else if (msg.cmd === 'wait') {
    await new Promise((resolve) => {
      waiter = resolve;
      setTimeout(resolve, msg.timeoutMs);
      settle();
    });
    process.send({ type: 'answers', answered, ok, other, errors, first, last });
  }
});
