/**
 * The dashboard's script (issue 16): fetches ./api/status, ./api/series and ./api/history,
 * then follows ./api/events (server-sent events: a `tick` a second with every service's status
 * and new series point, and each `history` record as it begins, gains a step and ends). It
 * draws with the DOM and canvas, builds every text with textContent (nothing it receives is
 * parsed as HTML) and exposes what it shows as `window.batonDashboard`, for tests.
 *
 * ES2018, no framework, no build step. Kept as one constant string: no backticks and no
 * "${" inside, so it needs no escaping here.
 */
export const PAGE_JS = String.raw`(function () {
  'use strict';
  var WINDOW_S = 300;
  var STEP_NAMES = { start: 'start', healthy: 'healthy', hold: 'hold', quiesce: 'quiesce', migrate: 'migrate', 'switch': 'switch', resume: 'resume', notify: 'notify', drain: 'drain', stop: 'stop', canary: 'canary', rollback: 'rollback', spawn: 'spawn', adopt: 'adopt', ready: 'ready', handover: 'handover' };
  var state = { status: null, series: {}, history: {}, live: false, ready: false, renders: 0, ticks: 0 };
  window.batonDashboard = state;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '-';
    if (ms < 1) return (Math.round(ms * 100) / 100) + 'ms';
    if (ms < 1000) return (ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms)) + 'ms';
    if (ms < 60000) return (Math.round(ms / 10) / 100) + 's';
    return Math.floor(ms / 60000) + 'm' + Math.round((ms % 60000) / 1000) + 's';
  }
  function fmtNum(x, digits) {
    if (x === null || x === undefined) return '-';
    var f = Math.pow(10, digits || 0);
    return String(Math.round(x * f) / f);
  }
  function fmtTime(iso) {
    var d = new Date(iso);
    var p = function (n) { return n < 10 ? '0' + n : String(n); };
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  function byText(by) {
    if (!by) return '';
    if (by.via === 'tcp') return 'by token ' + by.token + ' (' + by.address + ')';
    if (by.via === 'signal') return 'by ' + by.signal;
    return 'by ' + by.via;
  }
  function getJson(path) {
    return fetch(path, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(path + ': ' + r.status);
      return r.json();
    });
  }

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

  // --- rendering ----------------------------------------------------------------------------
  function stateBadges(s) {
    var out = [];
    if (s.maintenance) out.push('maintenance');
    if (s.state === 'paused') out.push('paused');
    if (s.state === 'migrating') out.push('migrating');
    if (s.state === 'swapping') out.push('swapping');
    if (s.canary) out.push('canary');
    if (s.queued > 0 && s.state !== 'paused') out.push('held');
    if (out.length === 0) out.push('serving');
    if (s.active && !s.healthy) out.push('unhealthy');
    return out;
  }
  function fact(k, v, key) {
    var f = el('div', 'fact');
    f.appendChild(el('span', 'k', k));
    var val = el('span', 'v', v);
    if (key) val.setAttribute('data-fact', key);
    f.appendChild(val);
    return f;
  }
  function replicaList(replicas, version) {
    var box = el('div', 'replicas');
    replicas.forEach(function (r) {
      var cls = 'replica' + (r.ejected ? ' ejected' : r.healthy ? '' : ' down');
      var text = version + ' ' + r.address + ' · ' + r.inflight + ' in flight' + (r.restarts ? ' · ' + r.restarts + ' restarts' : '');
      var e = el('span', cls, text);
      e.title = r.healthy ? 'healthy' : r.ejected ? 'ejected (passive health)' : 'unhealthy';
      box.appendChild(e);
    });
    return box;
  }
  function chart(title, key, lines, unit) {
    var box = el('div', 'chart');
    box.setAttribute('data-chart', key);
    var head = el('div', 'title');
    var left = el('span', null, title);
    if (lines.length > 1) {
      var legend = el('span', 'legend');
      lines.forEach(function (l) {
        var i = el('i');
        i.style.background = l.color;
        legend.appendChild(i);
        legend.appendChild(document.createTextNode(l.label));
      });
      left.appendChild(legend);
    }
    head.appendChild(left);
    head.appendChild(el('span', 'now'));
    box.appendChild(head);
    var c = el('canvas');
    box.appendChild(c);
    box._lines = lines;
    box._unit = unit;
    return box;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log(v) / Math.LN10));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function drawChart(box, s) {
    var canvas = box.querySelector('canvas');
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    var dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    var g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var styles = getComputedStyle(document.documentElement);
    // The last five minutes, or less while there is less (at least one).
    var span = 0;
    box._lines.forEach(function (l) { span = Math.max(span, s ? s[l.key].length : 0); });
    var windowS = Math.max(60, Math.min(WINDOW_S, span));
    var max = 0, lines = box._lines;
    lines.forEach(function (l) { (s ? s[l.key] : []).forEach(function (v) { if (v !== null && l.scale * v > max) max = l.scale * v; }); });
    max = niceMax(max);
    g.strokeStyle = styles.getPropertyValue('--line');
    g.lineWidth = 1;
    g.beginPath(); g.moveTo(0, h - 0.5); g.lineTo(w, h - 0.5); g.moveTo(0, 0.5); g.lineTo(w, 0.5); g.stroke();
    g.fillStyle = styles.getPropertyValue('--muted');
    g.font = '10px system-ui, sans-serif';
    g.fillText(fmtNum(max, 2) + box._unit, 4, 11);
    g.textAlign = 'right';
    g.fillText((windowS / 60 >= 1 && windowS % 60 === 0 ? windowS / 60 + ' min' : windowS + ' s'), w - 4, 11);
    g.textAlign = 'left';
    var last = [];
    lines.forEach(function (l) {
      var values = s ? s[l.key] : [];
      var n = values.length;
      g.strokeStyle = l.color;
      g.lineWidth = 1.5;
      g.beginPath();
      var pen = false;
      for (var i = 0; i < n; i++) {
        var v = values[i];
        if (v === null) { pen = false; continue; }
        var x = w - (n - 1 - i) * (w / (windowS - 1));
        var y = h - 2 - (l.scale * v / max) * (h - 14);
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      }
      g.stroke();
      var lv = n > 0 ? values[n - 1] : null;
      last.push((lines.length > 1 ? l.label + ' ' : '') + (lv === null ? '-' : fmtNum(l.scale * lv, 2) + box._unit));
    });
    box.querySelector('.now').textContent = last.join('  ');
  }
  function stepSpan(step, cls) {
    var span = el('span', 'step' + (cls ? ' ' + cls : ''), (STEP_NAMES[step.step] || step.step) + ' ' + fmtMs(step.ms));
    span.setAttribute('data-step', step.step);
    span.title = step.step + ': ' + fmtMs(step.ms) + ' (at ' + fmtMs(step.at_ms) + ')';
    // Width by duration, within bounds, so a 5 s drain is wide and a 0.1 ms switch still readable.
    span.style.flexGrow = String(Math.max(1, Math.min(12, Math.log(1 + (step.ms || 0)) )));
    return span;
  }
  function entryItem(e, swapping) {
    var li = el('li', 'entry ' + e.outcome);
    li.setAttribute('data-id', e.id);
    li.setAttribute('data-kind', e.kind);
    li.setAttribute('data-outcome', e.outcome);
    if (e.version) li.setAttribute('data-version', e.version);
    li.appendChild(el('span', 'when', fmtTime(e.started_at)));
    var what = e.kind;
    if (e.kind === 'deploy' || e.kind === 'rollback' || e.kind === 'promote' || e.kind === 'canary') what += ' ' + (e.previous ? e.previous + ' → ' : '') + (e.version || '');
    else if (e.kind === 'maintenance') what += e.detail && e.detail.on ? ' on' + (e.detail.message ? ': ' + e.detail.message : '') : ' off';
    else if (e.kind === 'pause' && e.detail && e.detail.timeout_ms) what += ' for ' + fmtMs(e.detail.timeout_ms);
    else if (e.kind === 'resume') what += ' (' + ((e.detail && e.detail.released) || 0) + ' released)';
    else if (e.kind === 'upgrade' && e.detail) what += ' pid ' + e.detail.previous_pid + (e.outcome === 'ok' ? ' → ' + e.detail.pid : '');
    else if (e.kind === 'reload' && e.detail) what += ': ' + ['added', 'removed', 'changed'].map(function (k) { return k + ' ' + ((e.detail[k] || []).length); }).join(', ');
    if (e.kind === 'canary' && e.detail && e.detail.percent) what += ' at ' + e.detail.percent + '%';
    var w = el('span', 'what', what);
    w.appendChild(el('span', 'dur', e.outcome === 'running' ? 'running…' : e.outcome + ' in ' + fmtMs(e.ms) + (e.hold_ms !== null && e.hold_ms !== undefined ? ', hold ' + fmtMs(e.hold_ms) : '')));
    w.appendChild(el('span', 'by', byText(e.by)));
    li.appendChild(w);
    if (e.steps && (e.steps.length > 0 || e.outcome === 'running')) {
      var steps = el('div', 'steps');
      e.steps.forEach(function (st) { steps.appendChild(stepSpan(st)); });
      // The step under way, from the last tick (a second old at most): unless its event came since.
      if (e.outcome === 'running' && swapping && !e.steps.some(function (st) { return st.step === swapping.step; })) steps.appendChild(stepSpan({ step: swapping.step, ms: swapping.elapsed_ms, at_ms: null }, 'now'));
      if (e.outcome === 'failed' && e.error && e.error.step) steps.appendChild(stepSpan({ step: e.error.step, ms: 0, at_ms: e.ms }, 'fail'));
      li.appendChild(steps);
    }
    if (e.error) li.appendChild(el('span', 'err', e.error.code + ': ' + e.error.message));
    return li;
  }
  function renderTimeline(list, entries, swapping) {
    list.textContent = '';
    if (entries.length === 0) list.appendChild(el('li', 'empty', 'No deploys recorded yet.'));
    entries.forEach(function (e) { list.appendChild(entryItem(e, swapping)); });
  }
  function serviceCard(name) {
    var card = el('section', 'svc');
    card.setAttribute('data-service', name);
    var head = el('div', 'svc-head');
    head.appendChild(el('h2', null, name));
    head.appendChild(el('span', 'badges'));
    head.appendChild(el('span', 'routes'));
    card.appendChild(head);
    card.appendChild(el('div', 'facts'));
    card.appendChild(el('div', 'replicas-box'));
    var charts = el('div', 'charts');
    charts.appendChild(chart('Requests/s', 'rps', [{ key: 'rps', label: 'rps', color: 'var(--c1)', scale: 1 }], ''));
    charts.appendChild(chart('Errors (5xx)', 'errors', [{ key: 'error_rate', label: 'errors', color: 'var(--c2)', scale: 100 }], '%'));
    charts.appendChild(chart('Latency', 'latency', [{ key: 'p50_ms', label: 'p50', color: 'var(--c1)', scale: 1 }, { key: 'p99_ms', label: 'p99', color: 'var(--c2)', scale: 1 }], 'ms'));
    card.appendChild(charts);
    card.appendChild(el('h3', null, 'Deploy history'));
    card.appendChild(el('ol', 'timeline'));
    return card;
  }
  function resolveColors(card) {
    var styles = getComputedStyle(document.documentElement);
    card.querySelectorAll('.chart').forEach(function (box) {
      box._lines.forEach(function (l) { if (l.color.indexOf('var(') === 0) l.color = styles.getPropertyValue(l.color.slice(4, -1)).trim() || '#888'; });
      box.querySelectorAll('.legend i').forEach(function (i, n) { i.style.background = box._lines[n].color; });
    });
  }
  function render() {
    var st = state.status;
    if (!st) return;
    var main = document.getElementById('services');
    var names = Object.keys(st.services);
    var empty = main.querySelector(':scope > .empty');
    if (empty) main.removeChild(empty);
    main.querySelectorAll('.svc').forEach(function (card) { if (names.indexOf(card.getAttribute('data-service')) === -1) main.removeChild(card); });
    names.forEach(function (name) {
      var s = st.services[name];
      var card = main.querySelector('.svc[data-service="' + CSS.escape(name) + '"]');
      if (!card) { card = serviceCard(name); main.appendChild(card); resolveColors(card); }
      var badges = card.querySelector('.badges');
      badges.textContent = '';
      stateBadges(s).forEach(function (b) { var e = el('span', 'badge ' + b, b); e.setAttribute('data-state', b); badges.appendChild(e); });
      card.querySelector('.routes').textContent = 'hosts ' + s.hosts.join(', ') + ((s.paths || ['/']).join(',') === '/' ? '' : ' · paths ' + s.paths.join(', '));
      var facts = card.querySelector('.facts');
      facts.textContent = '';
      facts.appendChild(fact('Active', s.active ? s.active.version : '-', 'active'));
      facts.appendChild(fact('Previous', s.previous ? s.previous.version : '-', 'previous'));
      if (s.canary) facts.appendChild(fact('Canary', s.canary.version + ' · ' + s.canary.percent + '%', 'canary'));
      facts.appendChild(fact('In flight', s.inflight, 'inflight'));
      facts.appendChild(fact('Held', s.queued, 'held'));
      facts.appendChild(fact('WebSockets', s.websockets, 'websockets'));
      (s.draining || []).forEach(function (d) { facts.appendChild(fact('Draining ' + d.version, d.inflight + ' in flight, ' + d.websockets + ' ws')); });
      if (s.maintenance) facts.appendChild(fact('Maintenance', s.maintenance.message || 'on'));
      var rbox = card.querySelector('.replicas-box');
      rbox.textContent = '';
      if (s.active) rbox.appendChild(replicaList(s.replicas || [], s.active.version));
      if (s.canary) rbox.appendChild(replicaList(s.canary.replicas || [], s.canary.version));
      card.querySelectorAll('.chart').forEach(function (box) { drawChart(box, state.series[name]); });
      renderTimeline(card.querySelector('.timeline'), entriesOf(name), s.swapping);
    });
    var global = entriesOf(null);
    var g = document.getElementById('global');
    g.hidden = global.length === 0;
    if (global.length > 0) renderTimeline(document.getElementById('global-timeline'), global, null);
    var b = st.baton;
    document.getElementById('baton-info').textContent = 'v' + b.version + ' · pid ' + b.pid + ' · ' + b.listen + ' · up ' + fmtMs(b.uptime_s * 1000);
    state.renders++;
    if (!state.ready) {
      state.ready = true;
      if (performance.mark) performance.mark('baton-dashboard-ready');
    }
  }
  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; render(); });
  }

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
