// The demo app that Baton serves: one process per version, told its version by BATON_VERSION.
// Plain Node ESM with only node built-ins and `ws`, so Baton can run it as a process or in Docker.
//
//   GET  /          the demo page (version, live SSE clock, WebSocket echo), includes /_baton/client.js
//   GET  /plain     the same page WITHOUT the client script tag (to test script injection)
//   GET  /healthz   200 "ok"
//   GET  /version   {"version": "..."}
//   POST /echo      the request body, byte for byte, with the request's content-type
//   GET  /events    SSE: data: {"version", "time"} every second
//   GET  /slow?ms=N answers after N ms (drain tests)
//   GET  /headers   the request headers as the app received them (what Baton adds)
//   WS   /ws        sends {"hello": version}, then answers each message with {"version", "echo"}
//
// Every response, the WebSocket handshake included, carries `x-app-version`.
// Two kinds of version fail on purpose, so a failing deploy can be tried (README, "A tour"): a
// version whose name contains "crash" exits before it listens (it imports a module that is not
// there, as a release missing a file would), one containing "unhealthy" answers /healthz 503.
// On SIGTERM/SIGINT it stops accepting, closes idle keep-alive connections, lets in-flight
// requests finish, ends SSE streams, closes WebSockets with 1001 and exits 0.

import http from 'node:http';
import { WebSocketServer } from 'ws';

const VERSION = process.env.BATON_VERSION || 'dev';
const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
const SLOW_MAX_MS = 120_000;
const SHUTDOWN_DEADLINE_MS = 5_000;
const WS_CLOSE_GRACE_MS = 1_000;
const UNHEALTHY = VERSION.includes('unhealthy');

if (VERSION.includes('crash')) await import(`./missing-in-${VERSION}.js`);

let closing = false;
/** Responses not yet finished; on shutdown each is told to close its connection once done. */
const inflight = new Set();
/** Open SSE responses, ended on shutdown so browsers reconnect (through Baton, to the new version). */
const sseStreams = new Set();

const server = http.createServer(onRequest);
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

wss.on('headers', (headers) => headers.push(`x-app-version: ${VERSION}`));
wss.on('connection', onWebSocket);
server.on('upgrade', onUpgrade);

server.listen(PORT, HOST, () => {
  const { address, port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(JSON.stringify({ msg: 'demo app listening', version: VERSION, address, port }));
});

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
function onRequest(req, res) {
  res.setHeader('x-app-version', VERSION);
  // A request that arrives on a kept-alive connection during shutdown is served, then that connection closes.
  if (closing) res.setHeader('connection', 'close');
  inflight.add(res);
  res.on('close', () => {
    inflight.delete(res);
    // server.close() only closes connections idle at that moment; sweep again as each one frees up.
    if (closing) setImmediate(() => server.closeIdleConnections());
  });

  const url = new URL(req.url ?? '/', 'http://demo.invalid');
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const route = `${method} ${url.pathname}`;

  switch (route) {
    case 'GET /':
      return send(res, 200, 'text/html; charset=utf-8', page({ withClientScript: true }));
    case 'GET /plain':
      return send(res, 200, 'text/html; charset=utf-8', page({ withClientScript: false }));
    case 'GET /healthz':
      if (UNHEALTHY) return send(res, 503, 'text/plain; charset=utf-8', 'unhealthy (on purpose)');
      return send(res, 200, 'text/plain; charset=utf-8', 'ok');
    case 'GET /version':
      return send(res, 200, 'application/json', JSON.stringify({ version: VERSION }));
    case 'POST /echo':
      return echo(req, res);
    case 'GET /events':
      return events(req, res);
    case 'GET /slow':
      return slow(url, res);
    case 'GET /headers':
      return send(res, 200, 'application/json', JSON.stringify(req.headers));
    default:
      return send(res, 404, 'text/plain; charset=utf-8', 'not found');
  }
}

/** @param {http.ServerResponse} res @param {number} status @param {string} type @param {string | Buffer} body */
function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
function echo(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const headers = { 'content-length': body.length, 'cache-control': 'no-store' };
    if (req.headers['content-type'] !== undefined) headers['content-type'] = req.headers['content-type'];
    res.writeHead(200, headers);
    res.end(body);
  });
  req.on('error', () => res.destroy());
}

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
function events(req, res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  const tick = () => res.write(`data: ${JSON.stringify({ version: VERSION, time: new Date().toISOString() })}\n\n`);
  tick();
  const timer = setInterval(tick, 1000);
  sseStreams.add(res);
  res.on('close', () => {
    clearInterval(timer);
    sseStreams.delete(res);
  });
}

/** @param {URL} url @param {http.ServerResponse} res */
function slow(url, res) {
  const asked = Number(url.searchParams.get('ms') ?? 0);
  const ms = Number.isFinite(asked) ? Math.min(Math.max(0, Math.trunc(asked)), SLOW_MAX_MS) : 0;
  const timer = setTimeout(() => send(res, 200, 'application/json', JSON.stringify({ version: VERSION, ms })), ms);
  res.on('close', () => clearTimeout(timer));
}

/** @param {http.IncomingMessage} req @param {import('node:stream').Duplex} socket @param {Buffer} head */
function onUpgrade(req, socket, head) {
  const { pathname } = new URL(req.url ?? '/', 'http://demo.invalid');
  if (pathname !== '/ws' || closing) {
    const status = closing ? '503 Service Unavailable' : '404 Not Found';
    socket.end(`HTTP/1.1 ${status}\r\nx-app-version: ${VERSION}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
}

/** @param {import('ws').WebSocket} ws */
function onWebSocket(ws) {
  ws.send(JSON.stringify({ hello: VERSION }));
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? Buffer.from(/** @type {Buffer} */ (data)).toString('base64') : data.toString();
    ws.send(JSON.stringify({ version: VERSION, echo: text }));
  });
  ws.on('error', () => ws.terminate());
}

/** @param {string} signal */
function shutdown(signal) {
  if (closing) return;
  closing = true;
  console.log(JSON.stringify({ msg: 'demo app stopping', version: VERSION, signal }));

  // Stop accepting; the callback runs once every connection (upgraded ones included) has closed.
  server.close(() => {
    console.log(JSON.stringify({ msg: 'demo app stopped', version: VERSION }));
    process.exit(0);
  });
  server.closeIdleConnections();
  for (const res of inflight) if (!res.headersSent) res.setHeader('connection', 'close');

  for (const res of sseStreams) res.end();
  for (const ws of wss.clients) ws.close(1001, 'going away');
  // A peer that never answers the close frame must not hold the exit hostage.
  setTimeout(() => {
    for (const ws of wss.clients) ws.terminate();
  }, WS_CLOSE_GRACE_MS).unref();

  setTimeout(() => {
    console.log(JSON.stringify({ msg: 'demo app stop deadline passed', version: VERSION }));
    server.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_DEADLINE_MS).unref();
}

/** @param {string} s */
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A hue derived from the version, so two versions side by side look different at a glance. */
function versionHue(version) {
  let h = 0;
  for (const ch of version) h = (h * 31 + ch.codePointAt(0)) % 1_000_003;
  // Spread by the golden angle, so neighbours (v1, v2) land far apart on the wheel.
  return (h * 137) % 360;
}

/** @param {{ withClientScript: boolean }} opts */
function page({ withClientScript }) {
  const v = escapeHtml(VERSION);
  const script = withClientScript ? '\n<script src="/_baton/client.js" defer></script>' : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Baton demo · ${v}</title>
<link rel="icon" href="data:,">${script}
<style>
  :root { --hue: ${versionHue(VERSION)}; color-scheme: light dark;
    --bg: hsl(var(--hue) 35% 96%); --card: #fff; --ink: #1d2330; --muted: #5b6475;
    --accent: hsl(var(--hue) 65% 40%); --on-accent: #fff; --line: #e3e6ec; }
  @media (prefers-color-scheme: dark) {
    :root { --bg: hsl(var(--hue) 25% 10%); --card: #171b24; --ink: #e8ebf2; --muted: #9aa3b5;
      --accent: hsl(var(--hue) 70% 65%); --on-accent: #10131a; --line: #2a3040; }
  }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
    background: var(--bg); color: var(--ink); display: grid; place-items: center; padding: 24px; }
  main { width: 100%; max-width: 640px; display: grid; gap: 16px; }
  header { text-align: center; }
  .eyebrow { margin: 0; color: var(--muted); font-size: .8rem; letter-spacing: .12em; text-transform: uppercase; }
  .version { margin: 4px 0 0; font-size: clamp(3.5rem, 14vw, 6.5rem); line-height: 1; font-weight: 800;
    color: var(--accent); letter-spacing: -.03em; word-break: break-all; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 16px 18px;
    box-shadow: 0 1px 2px rgb(0 0 0 / .04), 0 4px 16px rgb(0 0 0 / .04); }
  h2 { margin: 0 0 8px; font-size: .95rem; display: flex; align-items: center; gap: 8px; }
  .dot { width: 9px; height: 9px; border-radius: 50%; background: #b5bccb; flex: none; }
  .dot.on { background: #1fa463; box-shadow: 0 0 0 3px rgb(31 164 99 / .18); }
  .clock { font: 600 1.6rem/1.2 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-variant-numeric: tabular-nums; }
  .meta { color: var(--muted); font-size: .85rem; }
  form { display: flex; gap: 8px; }
  input { flex: 1; min-width: 0; font: inherit; padding: 8px 10px; border: 1px solid var(--line); border-radius: 8px;
    background: transparent; color: inherit; }
  button { font: inherit; font-weight: 600; padding: 8px 14px; border: 0; border-radius: 8px; background: var(--accent);
    color: var(--on-accent); cursor: pointer; }
  a { color: var(--accent); }
  button:disabled { opacity: .5; cursor: default; }
  ol { list-style: none; margin: 10px 0 0; padding: 0; font: .85rem/1.6 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
    max-height: 9.6em; overflow: auto; }
  li { display: flex; gap: 8px; border-top: 1px dashed var(--line); padding: 2px 0; }
  li b { color: var(--accent); font-weight: 600; }
  footer { text-align: center; color: var(--muted); font-size: .8rem; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
</style>
</head>
<body>
<main>
  <header>
    <p class="eyebrow">Baton demo app · version</p>
    <h1 class="version" id="version">${v}</h1>
  </header>
  <section aria-labelledby="clock-title">
    <h2 id="clock-title"><span class="dot" id="sse-dot"></span>Live clock <span class="meta">(server-sent events)</span></h2>
    <div class="clock" id="clock">--:--:--</div>
    <div class="meta" id="clock-meta">connecting…</div>
  </section>
  <section aria-labelledby="echo-title">
    <h2 id="echo-title"><span class="dot" id="ws-dot"></span>WebSocket echo <span class="meta" id="ws-state">connecting…</span></h2>
    <form id="echo-form">
      <input id="echo-input" name="message" autocomplete="off" placeholder="Type a message" aria-label="Message">
      <button id="echo-send" type="submit" disabled>Send</button>
    </form>
    <ol id="echo-log" aria-live="polite"></ol>
  </section>
  <footer>Served by <code>${v}</code> · <a href="/version">/version</a> · <a href="/healthz">/healthz</a></footer>
</main>
<script>
(function () {
  var $ = function (id) { return document.getElementById(id); };

  // Live clock over SSE; EventSource reconnects by itself (retry: 1000 from the server).
  var es = new EventSource('/events');
  es.onopen = function () { $('sse-dot').className = 'dot on'; };
  es.onerror = function () { $('sse-dot').className = 'dot'; $('clock-meta').textContent = 'reconnecting…'; };
  es.onmessage = function (e) {
    var d = JSON.parse(e.data);
    $('clock').textContent = new Date(d.time).toLocaleTimeString();
    $('clock-meta').textContent = 'sent by ' + d.version;
  };

  // WebSocket echo with reconnect: right away on 1012 (service restart: a new version is up),
  // else with a small doubling backoff, reset after a successful open.
  var ws = null, attempt = 0;
  var log = $('echo-log');
  function line(who, text) {
    var li = document.createElement('li');
    var b = document.createElement('b');
    b.textContent = who;
    var span = document.createElement('span');
    span.textContent = text;
    li.append(b, span);
    log.prepend(li);
    while (log.children.length > 30) log.lastChild.remove();
  }
  function setState(text, on) {
    $('ws-state').textContent = text;
    $('ws-dot').className = on ? 'dot on' : 'dot';
    $('echo-send').disabled = !on;
  }
  function connect() {
    setState('connecting…', false);
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    ws.onopen = function () { attempt = 0; setState('open', true); };
    ws.onmessage = function (e) {
      var d = JSON.parse(e.data);
      if (d.hello !== undefined) line(d.hello, 'hello');
      else line(d.version, d.echo);
    };
    ws.onclose = function (e) {
      var delay = e.code === 1012 ? 0 : Math.min(5000, 250 * Math.pow(2, attempt++));
      setState('closed (' + e.code + '), reconnecting' + (delay ? ' in ' + (delay / 1000).toFixed(1) + ' s' : '') + '…', false);
      setTimeout(connect, delay);
    };
  }
  $('echo-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var input = $('echo-input');
    if (!input.value || !ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(input.value);
    input.value = '';
  });
  connect();
})();
</script>
</body>
</html>
`;
}
