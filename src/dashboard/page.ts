/**
 * The dashboard's page (issue 16). Static: everything it shows is fetched by app.js from the
 * control API under ./api/, so the page itself holds nothing of the running Baton.
 */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Baton</title>
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header>
  <h1>Baton</h1>
  <span id="baton-info"></span>
  <span id="live" class="live off">connecting</span>
</header>
<main id="services"><p class="empty">Loading…</p></main>
<section id="global" hidden>
  <h2>Reloads and upgrades</h2>
  <ol class="timeline" id="global-timeline"></ol>
</section>
<footer>Read-only view of the control API. Times are your browser's.</footer>
</body>
</html>
`;
