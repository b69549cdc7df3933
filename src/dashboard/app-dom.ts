/**
 * The dashboard script's DOM and text helpers: make an element with its text (always
 * textContent), format durations, numbers, times and who asked, fetch JSON from the API.
 * A part of app.js (see app.ts): it runs in that script's scope.
 */
export const DOM_JS = String.raw`
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

`;
