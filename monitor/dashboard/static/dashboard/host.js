/* A host's (or a server's) charts: the sections the server derived from the catalog, one batch
 * request for all of them, synced crosshair and zoom (dash.js). */
(function () {
  "use strict";
  Dash.ready(() => {
    const byId = new Map();
    for (const section of Dash.config.sections || []) {
      for (const chart of section.charts) byId.set(chart.id, chart);
    }
    const records = [];
    document.querySelectorAll("figure.chart[data-chart]").forEach((figure) => {
      const chart = byId.get(figure.dataset.chart);
      if (chart) records.push(Dash.makeChart(figure.querySelector(".plot"), chart));
    });
    const set = new Dash.ChartSet(records);
    Dash.run(async () => {
      const [done] = await Promise.all([set.load(), refreshState()]);
      return done;
    });
  });

  /** The host's "last report … ago" and stale badge, as they are now (the page shows them as they were). */
  async function refreshState() {
    const badge = document.getElementById("host-stale");
    if (!badge) return; // a server's page has none
    const response = await fetch(location.pathname + "?part=state", { credentials: "same-origin" });
    if (!response.ok || response.redirected) return;
    const state = await response.json();
    badge.hidden = !state.stale;
    badge.dataset.lastSeen = String(Math.floor(state.last_seen));
    const time = badge.parentElement.querySelector("time");
    if (time) time.textContent = state.text;
  }
})();
