/**
 * The dashboard script's deploy timeline: one item per history record, its steps as spans
 * sized by duration, the step under way and the failed one marked.
 * A part of app.js (see app.ts): it runs in that script's scope.
 */
export const TIMELINE_JS = String.raw`
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
`;
