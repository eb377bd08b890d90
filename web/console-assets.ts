/**
 * The console's only assets, served from Spine itself (no CDN): one stylesheet, and a few lines of
 * script that submit the login form on its own (so a chat app's link preview, which does not run
 * scripts, cannot spend the one-time token) and ask before a destructive click.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1d232b; --muted: #5d6875; --bg: #f6f7f9; --card: #fff;
  --line: #dde1e6; --accent: #2f6fde; --ok: #1f8a4c; --bad: #c2372e; --warn: #b7791f; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ed; --muted: #9aa5b1; --bg: #15191e;
  --card: #1e242b; --line: #2d353f; --accent: #6b9cf0; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem .75rem; padding: .6rem 1rem;
  background: var(--card); border-bottom: 1px solid var(--line); }
header strong { margin-right: .5rem; }
nav { display: flex; flex-wrap: wrap; gap: .25rem; flex: 1; }
nav a { padding: .3rem .6rem; border-radius: 6px; color: var(--fg); text-decoration: none; }
nav a.active { background: var(--accent); color: #fff; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.3rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .5rem; }
a { color: var(--accent); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .8rem 1rem;
  margin-bottom: .8rem; overflow-wrap: anywhere; }
.muted { color: var(--muted); font-size: .9em; }
.notice { border-left: 4px solid var(--ok); }
.problem { border-left: 4px solid var(--bad); }
dl { display: grid; grid-template-columns: minmax(6rem, max-content) 1fr; gap: .2rem .8rem; margin: .5rem 0; }
dt { color: var(--muted); }
dd { margin: 0; white-space: pre-wrap; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .5rem;
  overflow-x: auto; font-size: .85em; white-space: pre-wrap; }
ol.timeline { list-style: none; padding: .2rem 1rem; }
ol.timeline li { padding: .45rem 0; border-bottom: 1px solid var(--line); }
ol.timeline li:last-child { border-bottom: 0; }
ol.steps { list-style: none; padding: 0; }
ol.steps ul { margin: .3rem 0 0; padding-left: 1.1rem; overflow-wrap: anywhere; }
figure { margin: 0 0 .8rem; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
form.inline { display: inline; }
label { display: block; font-size: .85em; color: var(--muted); }
input, select, textarea { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line);
  border-radius: 6px; background: var(--card); color: var(--fg); max-width: 100%; }
textarea { width: 100%; min-height: 6rem; }
button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); cursor: pointer; min-height: 2.2rem; }
a.button { display: inline-block; padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); text-decoration: none; min-height: 2.2rem; }
summary { cursor: pointer; color: var(--muted); margin: .3rem 0; }
button.primary { background: var(--ok); border-color: var(--ok); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
.status { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8em;
  border: 1px solid var(--line); }
.status-succeeded, .status-done, .status-approved, .status-resolved { color: var(--ok); border-color: var(--ok); }
.status-failed, .status-rejected, .status-refused, .status-open { color: var(--bad); border-color: var(--bad); }
.status-awaiting_approval, .status-pending, .status-running { color: var(--warn); border-color: var(--warn); }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); gap: .8rem; }
svg.chart { width: 100%; height: auto; }
svg.chart .bar { fill: var(--accent); }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg.chart .axis { stroke: var(--line); }
svg.chart text { fill: var(--muted); font-size: 10px; }
@media (max-width: 40rem) { main { padding: .6rem; } dl { grid-template-columns: 1fr; } }
`;

export const CONSOLE_JS = `
document.querySelectorAll('form[data-autosubmit]').forEach(function (form) { form.submit(); });
document.querySelectorAll('form[data-confirm]').forEach(function (form) {
  form.addEventListener('submit', function (event) {
    if (!window.confirm(form.getAttribute('data-confirm'))) event.preventDefault();
  });
});
`;
