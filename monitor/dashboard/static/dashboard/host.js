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
    Dash.run(() => set.load());
  });
})();
