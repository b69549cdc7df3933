/**
 * The dashboard script's charts: a chart box and its legend, and its drawing on a canvas
 * (the last five minutes of one or two series, scaled to a round maximum).
 * A part of app.js (see app.ts): it runs in that script's scope.
 */
export const CHART_JS = String.raw`
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
`;
