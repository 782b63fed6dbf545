/* The fleet: sparklines of the last hour for every host and server in one batch request; the table
 * itself is re-read from the server on refresh (?part=rows), so its order stays worst first. */
(function () {
  "use strict";
  const HOUR = 3600;

  function cells() {
    return [...document.querySelectorAll("#fleet td.figure[data-name]")];
  }

  function formatValues() {
    document.querySelectorAll("#fleet .value[data-value]").forEach((el) => {
      if (el.dataset.value === "") return;
      el.textContent = Dash.formatter(el.dataset.unit)(Number(el.dataset.value));
    });
  }

  async function sparklines() {
    const found = cells();
    found.forEach((cell) => (cell._record ? Dash.dropChart(cell._record) : null));
    const records = found.map((cell) => {
      const host = cell.dataset.host;
      const chart = {
        title: cell.dataset.name,
        unit: cell.dataset.unit,
        percent: cell.dataset.unit === "%",
        lines: [{ label: cell.dataset.name, name: cell.dataset.name, host: host === undefined ? null : host }],
      };
      cell._record = Dash.makeChart(cell.querySelector(".spark"), chart, { mini: true });
      return cell._record;
    });
    if (!records.length) return { step: Dash.config.minStep };
    const now = Date.now() / 1000;
    const width = records[0].width;
    const step = Dash.stepFor(HOUR, width);
    const since = Math.floor((now - HOUR) / step) * step;
    const set = new Dash.ChartSet(records);
    const items = set.items();
    const answer = await Dash.fetchSeries(items, since, now, step);
    records.forEach((record, i) => {
      const line = record.chart.lines[0];
      const result = answer.results.find((r) => r.name === line.name && (r.host || null) === (line.host || null));
      Dash.setData(record, answer.times, [result ? result.values : []], [now - HOUR, now]);
    });
    Dash.stats.loads += 1;
    document.body.dataset.loads = String(Dash.stats.loads);
    if (Dash.stats.loads === 1) performance.mark("dash:charts-drawn");
    return { step };
  }

  let first = true;

  async function load() {
    if (!first) {
      const response = await fetch(location.pathname + "?part=rows", { credentials: "same-origin" });
      if (response.redirected) {
        // The session ended (logout, expiry): the answer is the login page, not the table. Reload the
        // page itself, which then asks to log in, rather than show old figures as "Updated".
        location.reload();
        return { step: Dash.config.minStep };
      }
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      document.getElementById("fleet").innerHTML = await response.text();
      Dash.keepTimeInLinks();
    }
    first = false;
    formatValues();
    return sparklines();
  }

  Dash.ready(() => Dash.run(load));
})();
