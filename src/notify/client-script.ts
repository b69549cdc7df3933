/**
 * The browser side of Baton's notices: the JavaScript served at `GET /_baton/client.js`.
 *
 * It opens one WebSocket to `/_baton/ws` on the page's origin, reconnects with exponential
 * backoff and full jitter, and for each JSON message `{type, service, version, message?}`
 * dispatches `baton:message` and `baton:<type>` on `window`, calls the `Baton.onMessage`
 * callbacks and, unless opted out, shows a small dismissible banner (`<baton-notice>`).
 *
 * Opt-out of the banner: `<script src="/_baton/client.js" data-banner="off">`, or
 * `window.BatonConfig = { banner: false }` set before the script runs.
 *
 * The one global added: `window.Baton` (which also guards against double inclusion). The
 * banner's host is a `<baton-notice>` element with a shadow root, left undefined as a custom
 * element (a valid custom element name may host a shadow root without being registered), so
 * nothing is added to the page's custom element registry. ES2018, no framework. The text is constant: nothing from a request
 * is ever reflected into it, so it can be cached and shared between hosts.
 */

// Kept as one constant string: no backticks and no "${" inside, so it needs no escaping here.
const SOURCE = String.raw`/* Baton client: notices of new versions. */
(function () {
  'use strict';
  if (window.Baton) return;

  var BASE_MS = 500, CAP_MS = 30000;
  var config = window.BatonConfig || {};
  var me = document.currentScript;
  var bannerOn = config.banner !== false && !(me && me.getAttribute('data-banner') === 'off');
  var listeners = [];
  var attempt = 0, socket = null, banner = null;

  var api = {
    state: 'connecting',
    lastMessage: null,
    onMessage: function (cb) {
      listeners.push(cb);
      return function unsubscribe() {
        var i = listeners.indexOf(cb);
        if (i >= 0) listeners.splice(i, 1);
      };
    }
  };
  window.Baton = api;

  function connect() {
    api.state = 'connecting';
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/_baton/ws';
    try { socket = new WebSocket(url); } catch (e) { retry(); return; }
    socket.onopen = function () { attempt = 0; api.state = 'open'; };
    socket.onmessage = function (e) { receive(e.data); };
    socket.onclose = function () { socket = null; retry(); };
  }

  function retry() {
    api.state = 'closed';
    // Full jitter: a random wait up to the doubled ceiling, so a restarted proxy is not stampeded.
    var ceiling = Math.min(CAP_MS, BASE_MS * Math.pow(2, attempt));
    attempt++;
    setTimeout(connect, Math.random() * ceiling);
  }

  function receive(data) {
    var msg;
    try { msg = JSON.parse(data); } catch (e) { return; }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    api.lastMessage = msg;
    window.dispatchEvent(new CustomEvent('baton:message', { detail: msg }));
    window.dispatchEvent(new CustomEvent('baton:' + msg.type, { detail: msg }));
    listeners.slice().forEach(function (cb) {
      try { cb(msg); } catch (e) { setTimeout(function () { throw e; }); }
    });
    if (bannerOn) show(msg);
  }

  var CSS =
    ':host{position:fixed;right:16px;bottom:16px;z-index:2147483647;max-width:min(360px,calc(100vw - 32px));' +
    'font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#f4f6fa}' +
    '.box{display:flex;align-items:center;gap:10px;padding:10px 10px 10px 14px;border-radius:10px;' +
    'background:#1f2430;box-shadow:0 6px 24px rgba(0,0,0,.28);animation:in .2s ease-out}' +
    '.box[hidden]{display:none}.text{flex:1;overflow-wrap:anywhere}' +
    '.updating .text{opacity:.8}' +
    'button{font:inherit;cursor:pointer;border:0;border-radius:6px;color:inherit}' +
    '.reload{font-weight:600;padding:5px 10px;background:#3d7bfd;color:#fff}' +
    '.close{padding:0 6px;font-size:18px;line-height:1;background:transparent;opacity:.7}' +
    '.close:hover{opacity:1}button:focus-visible{outline:2px solid #9cc0ff;outline-offset:2px}' +
    '@keyframes in{from{opacity:0;transform:translateY(8px)}}' +
    '@media (prefers-reduced-motion:reduce){.box{animation:none;transition:none}}';

  function build() {
    var el = document.createElement('baton-notice');
    var root = el.attachShadow({ mode: 'open' });
    var style = document.createElement('style');
    style.textContent = CSS;
    var box = document.createElement('div');
    box.className = 'box';
    box.setAttribute('role', 'status');
    box.setAttribute('aria-live', 'polite');
    var text = document.createElement('span');
    text.className = 'text';
    var reload = document.createElement('button');
    reload.className = 'reload';
    reload.type = 'button';
    reload.textContent = 'Reload';
    reload.onclick = function () { location.reload(); };
    var close = document.createElement('button');
    close.className = 'close';
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    close.textContent = '\u00d7';
    close.onclick = function () { el.remove(); };
    box.append(text, reload, close);
    root.append(style, box);
    return { el: el, box: box, text: text, reload: reload, mode: '' };
  }

  function render(mode, text) {
    if (!banner) banner = build();
    banner.mode = mode;
    banner.box.className = 'box ' + mode;
    banner.reload.hidden = mode !== 'live';
    banner.text.textContent = text;
    if (!banner.el.isConnected) (document.body || document.documentElement).append(banner.el);
  }

  function show(msg) {
    var v = msg.version ? ' (' + msg.version + ')' : '';
    if (msg.type === 'deployed' || msg.type === 'rolled_back') render('live', 'A new version' + v + ' is live.');
    else if (msg.type === 'notice' && typeof msg.message === 'string') render('notice', msg.message);
    else if (msg.type === 'deploying') {
      // Never hide a pending "is live" behind the discreet updating state.
      if (!banner || !banner.el.isConnected || banner.mode !== 'live') render('updating', 'Updating\u2026');
    } else if (msg.type === 'deploy_failed' && banner && banner.mode === 'updating') banner.el.remove();
  }

  connect();
})();
`;

/** The constant JavaScript source of `/_baton/client.js`. */
export function clientScript(): string {
  return SOURCE;
}
