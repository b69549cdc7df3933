/**
 * The dashboard script's rendering: one card per service (badges, facts, replicas, charts,
 * timeline), kept in step with the last status, drawn at most once a frame.
 * A part of app.js (see app.ts): it runs in that script's scope.
 */
export const RENDER_JS = String.raw`
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

`;
