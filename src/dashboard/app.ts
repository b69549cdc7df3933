/**
 * The dashboard's script (issue 16): fetches ./api/status, ./api/series and ./api/history,
 * then follows ./api/events (server-sent events: a `tick` a second with every service's status
 * and new series point, and each `history` record as it begins, gains a step and ends). It
 * draws with the DOM and canvas, builds every text with textContent (nothing it receives is
 * parsed as HTML) and exposes what it shows as `window.batonDashboard`, for tests.
 *
 * ES2018, no framework, no build step. One script made of parts (app-dom, app-chart,
 * app-timeline, app-render), each a constant string run in this one function's scope; this
 * file holds its state, the data it keeps and the live connection. The parts hold no
 * backticks and no "${" inside, so they need no escaping.
 */
import { DOM_JS } from './app-dom.js';
import { CHART_JS } from './app-chart.js';
import { TIMELINE_JS } from './app-timeline.js';
import { RENDER_JS } from './app-render.js';

export const PAGE_JS = String.raw`(function () {
  'use strict';
  var WINDOW_S = 300;
  var STEP_NAMES = { start: 'start', healthy: 'healthy', hold: 'hold', quiesce: 'quiesce', migrate: 'migrate', 'switch': 'switch', resume: 'resume', notify: 'notify', drain: 'drain', stop: 'stop', canary: 'canary', rollback: 'rollback', spawn: 'spawn', adopt: 'adopt', ready: 'ready', handover: 'handover' };
  var state = { status: null, series: {}, history: {}, live: false, ready: false, renders: 0, ticks: 0 };
  window.batonDashboard = state;
${DOM_JS}
  // --- data ---------------------------------------------------------------------------------
  function addPoint(name, p) {
    var s = state.series[name];
    if (!s) s = state.series[name] = { t: [], rps: [], error_rate: [], p50_ms: [], p99_ms: [], held: [], websockets: [], inflight: [] };
    for (var k in s) if (Object.prototype.hasOwnProperty.call(s, k)) {
      s[k].push(p[k] === undefined ? null : p[k]);
      if (s[k].length > WINDOW_S) s[k].shift();
    }
  }
  function upsert(entry) { state.history[entry.id] = entry; }
  function entriesOf(service) {
    var out = [];
    for (var id in state.history) if (state.history[id].service === service) out.push(state.history[id]);
    out.sort(function (a, b) { return Date.parse(b.started_at) - Date.parse(a.started_at); });
    return out.slice(0, 12);
  }

${RENDER_JS}${CHART_JS}${TIMELINE_JS}
  // --- live ---------------------------------------------------------------------------------
  function setLive(on) {
    state.live = on;
    var e = document.getElementById('live');
    e.textContent = on ? 'live' : 'reconnecting';
    e.className = 'live ' + (on ? 'on' : 'off');
  }
  function connect() {
    var es = new EventSource('api/events');
    es.onopen = function () { setLive(true); };
    es.onerror = function () { setLive(false); };
    es.addEventListener('tick', function (m) {
      var d = JSON.parse(m.data);
      state.status = d.status;
      for (var name in d.points) if (Object.prototype.hasOwnProperty.call(d.points, name)) addPoint(name, d.points[name]);
      state.ticks++;
      schedule();
    });
    es.addEventListener('history', function (m) {
      upsert(JSON.parse(m.data));
      schedule();
    });
  }
  // Subscribe first: a record that changes while the snapshot loads is not missed (records are keyed by id).
  connect();
  Promise.all([getJson('api/status'), getJson('api/series'), getJson('api/history?n=500')]).then(function (r) {
    state.status = state.status || r[0];
    var series = r[1].services;
    for (var name in series) if (Object.prototype.hasOwnProperty.call(series, name) && !state.series[name]) state.series[name] = series[name];
    r[2].history.forEach(function (e) { if (!state.history[e.id] || state.history[e.id].outcome === 'running') upsert(e); });
    render();
  }).catch(function (err) {
    document.getElementById('services').textContent = 'Cannot reach Baton: ' + err.message;
  });
  addEventListener('resize', schedule);
})();
`;
