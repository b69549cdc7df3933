/**
 * WebSocket load, forked on the load core and driven over IPC.
 *   {cmd: 'echo', port, sockets, seconds, size}  -> {type: 'echo', roundTrips, msgPerSec, p50, p99, errors}
 *     `sockets` connections, each sending a message and waiting for its echo, back to back.
 *   {cmd: 'idle', port, count, batch}            -> {type: 'idle', opened, failed, ms}
 *     Opens `count` sockets and leaves them idle; {cmd: 'close'} -> {type: 'closed'} ends them.
 */
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();
let idle = [];

function open(port) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
    const onError = (err) => resolve({ ws: undefined, err: err.code ?? err.message });
    ws.once('error', onError);
    ws.once('open', () => {
      ws.removeListener('error', onError);
      ws.on('error', () => {});
      resolve({ ws });
    });
  });
}

async function echo({ port, sockets, seconds, size }) {
  const payload = Buffer.alloc(size, 120).toString();
  const conns = await Promise.all(Array.from({ length: sockets }, () => open(port)));
  const errors = conns.filter((c) => c.ws === undefined).length;
  const live = conns.filter((c) => c.ws !== undefined).map((c) => c.ws);
  const rtts = [];
  const started = now();
  const stopAt = started + seconds * 1000;
  await Promise.all(
    live.map(
      (ws) =>
        new Promise((resolve) => {
          let sent = 0;
          const send = () => {
            if (now() >= stopAt || ws.readyState !== WebSocket.OPEN) return resolve();
            sent = now();
            ws.send(payload);
          };
          ws.on('message', () => {
            rtts.push(now() - sent);
            send();
          });
          ws.once('close', resolve);
          send();
        }),
    ),
  );
  const elapsed = (now() - started) / 1000;
  for (const ws of live) ws.terminate();
  rtts.sort((a, b) => a - b);
  const pct = (p) => (rtts.length === 0 ? null : rtts[Math.min(rtts.length - 1, Math.ceil((p / 100) * rtts.length) - 1)]);
  return { type: 'echo', roundTrips: rtts.length, msgPerSec: rtts.length / elapsed, p50: pct(50), p99: pct(99), errors };
}

async function openIdle({ port, count, batch }) {
  const started = now();
  let failed = 0;
  const codes = {};
  for (let i = 0; i < count; i += batch) {
    const got = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => open(port)));
    for (const g of got) {
      if (g.ws !== undefined) idle.push(g.ws);
      else {
        failed++;
        codes[g.err] = (codes[g.err] ?? 0) + 1;
      }
    }
  }
  return { type: 'idle', opened: idle.length, failed, codes, ms: now() - started };
}

process.on('message', async (msg) => {
  if (msg.cmd === 'echo') process.send(await echo(msg));
  else if (msg.cmd === 'idle') process.send(await openIdle(msg));
  else if (msg.cmd === 'close') {
    for (const ws of idle) ws.terminate();
    idle = [];
    process.send({ type: 'closed' });
  }
});
