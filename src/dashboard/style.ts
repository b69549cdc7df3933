/** The dashboard's stylesheet (issue 16): light and dark by the system's preference. */
export const PAGE_CSS = String.raw`:root {
  --bg: #f6f7f9; --card: #fff; --fg: #1d232b; --muted: #68717d; --line: #dde1e6;
  --ok: #1f9d55; --warn: #c98a00; --bad: #d23f31; --info: #2f6fdf; --canary: #8a4fd8;
  --c1: #2f6fdf; --c2: #d23f31; --c3: #1f9d55;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #111418; --card: #1a1f25; --fg: #e6e9ed; --muted: #98a1ad; --line: #2b323a; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 18px; margin: 0; }
#baton-info { color: var(--muted); }
.live { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: var(--line); }
.live.on { background: var(--ok); color: #fff; }
.live.off { background: var(--warn); color: #fff; }
main, #global { padding: 16px 20px; display: grid; gap: 16px; }
footer { color: var(--muted); font-size: 12px; padding: 8px 20px 20px; }
.empty { color: var(--muted); }
.svc { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.svc-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
.svc-head h2 { margin: 0 8px 0 0; font-size: 17px; }
.routes { color: var(--muted); font-size: 12px; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; color: #fff; background: var(--muted); }
.badge.serving { background: var(--ok); }
.badge.held, .badge.swapping, .badge.migrating { background: var(--info); }
.badge.canary { background: var(--canary); }
.badge.paused { background: var(--warn); }
.badge.maintenance, .badge.unhealthy { background: var(--bad); }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 10px 0; }
.fact .k { display: block; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }
.fact .v { font-size: 15px; font-variant-numeric: tabular-nums; }
.replicas { display: flex; flex-wrap: wrap; gap: 6px; }
.replica { font-size: 12px; border: 1px solid var(--line); border-radius: 4px; padding: 1px 6px; font-variant-numeric: tabular-nums; }
.replica::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 5px; background: var(--ok); }
.replica.down::before { background: var(--bad); }
.replica.ejected::before { background: var(--warn); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 12px; margin: 8px 0 12px; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px 4px; }
.chart .title { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); }
.chart .now { color: var(--fg); font-variant-numeric: tabular-nums; }
.chart canvas { width: 100%; height: 80px; display: block; }
.legend i { display: inline-block; width: 10px; height: 2px; vertical-align: middle; margin: 0 3px 0 8px; }
h3 { font-size: 13px; margin: 6px 0; color: var(--muted); font-weight: 600; }
.timeline { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.entry { display: grid; grid-template-columns: 150px 1fr; gap: 2px 12px; border-left: 3px solid var(--ok); padding: 4px 0 4px 10px; }
.entry.failed { border-color: var(--bad); }
.entry.running { border-color: var(--info); }
.entry .when { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.entry .what { font-weight: 600; }
.entry .what .by, .entry .what .dur { font-weight: 400; color: var(--muted); margin-left: 8px; }
.entry .err { grid-column: 2; color: var(--bad); font-size: 12px; }
.steps { grid-column: 2; display: flex; flex-wrap: wrap; gap: 2px; min-height: 20px; }
.step { flex: 1 0 auto; white-space: nowrap; font-size: 11px; padding: 2px 4px; border-radius: 3px; background: var(--line); font-variant-numeric: tabular-nums; }
.step.now { background: var(--info); color: #fff; animation: pulse 1s ease-in-out infinite alternate; }
.step.fail { background: var(--bad); color: #fff; }
@keyframes pulse { from { opacity: .6; } to { opacity: 1; } }
`;
