/* The metric explorer: any metric of the catalog on any hosts, overlaid or side by side, with the
 * aggregate and step in the URL (metric, host, agg, step, overlay) and links to the raw rows. */
(function () {
  "use strict";
  const MAX_LINES = 60;
  const SHOWN_NAMES = 300;
  const ALL = "*"; // host=* : every host together (the API's series without host)

  const S = Dash.strings;
  const catalog = new Map(); // name -> {name, unit, hosts}
  let records = [];
  let set = new Dash.ChartSet([]);

  function remember(list) {
    for (const entry of list) catalog.set(entry.name, entry);
  }

  function state() {
    const q = Dash.params();
    return {
      metrics: q.getAll("metric").filter(Boolean),
      hosts: q.getAll("host"),
      aggregate: q.get("agg") || "avg",
      step: q.get("step") || "auto",
      overlay: q.get("overlay") !== "0",
    };
  }

  function hostsOf(metrics) {
    const found = new Set();
    for (const name of metrics) for (const host of (catalog.get(name) || { hosts: [] }).hosts) found.add(host);
    return [...found].sort();
  }

  /** The lines to draw: every chosen metric on every chosen host that has it. */
  function lines(st) {
    const all = hostsOf(st.metrics);
    const chosen = st.hosts.length ? st.hosts : all;
    const out = [];
    for (const name of st.metrics) {
      const entry = catalog.get(name) || { unit: "", hosts: all };
      const hosts = chosen.includes(ALL) ? [ALL] : chosen.filter((h) => entry.hosts.includes(h));
      for (const host of hosts) {
        const hostText = host === ALL ? S.allHosts : host || "∅";
        out.push({
          label: st.metrics.length > 1 ? `${name} @ ${hostText}` : hostText,
          name,
          host: host === ALL ? null : host,
          aggregate: st.aggregate,
          unit: entry.unit,
        });
      }
    }
    return out.slice(0, MAX_LINES);
  }

  function chartsFor(st) {
    const drawn = lines(st);
    if (st.overlay) {
      const byUnit = new Map();
      for (const line of drawn) {
        if (!byUnit.has(line.unit)) byUnit.set(line.unit, []);
        byUnit.get(line.unit).push(line);
      }
      return [...byUnit.entries()].map(([unit, group], i) => ({
        id: "overlay-" + i,
        title: [...new Set(group.map((l) => l.name))].join(", "),
        unit,
        percent: unit === "%",
        lines: group,
      }));
    }
    return drawn.map((line, i) => ({
      id: "line-" + i,
      title: `${line.name} @ ${line.host == null ? S.allHosts : line.host || "∅"}`,
      unit: line.unit,
      percent: line.unit === "%",
      lines: [{ ...line, label: line.host == null ? S.allHosts : line.host || "∅" }],
    }));
  }

  // ---- the picker ------------------------------------------------------------------------

  function renderList() {
    const query = document.getElementById("metric-search").value.trim().toLowerCase();
    const words = query.split(/\s+/).filter(Boolean);
    const chosen = new Set(state().metrics);
    const list = document.getElementById("metric-list");
    const matches = [...catalog.values()].filter((e) => words.every((w) => e.name.toLowerCase().includes(w)));
    list.replaceChildren(
      ...matches.slice(0, SHOWN_NAMES).map((entry) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.metric = entry.name;
        button.setAttribute("aria-pressed", String(chosen.has(entry.name)));
        const name = document.createElement("span");
        name.textContent = entry.name;
        const count = document.createElement("span");
        count.className = "dim";
        count.textContent = entry.hosts.length;
        button.append(name, count);
        button.addEventListener("click", () => toggleMetric(entry.name));
        li.append(button);
        return li;
      })
    );
    const more = document.getElementById("metric-more");
    more.hidden = matches.length > 0 && matches.length <= SHOWN_NAMES;
    more.textContent = matches.length ? `${SHOWN_NAMES} / ${matches.length}` : S.noMatch;
  }

  let searchTimer = null;

  function searchServer() {
    const query = document.getElementById("metric-search").value.trim();
    clearTimeout(searchTimer);
    if (!Dash.config.truncated || !query) return;
    searchTimer = setTimeout(async () => {
      const response = await fetch(Dash.config.namesUrl + "?q=" + encodeURIComponent(query), { credentials: "same-origin" });
      if (response.ok) {
        remember((await response.json()).names);
        renderList();
      }
    }, 250);
  }

  /** Metrics the URL names beyond the names the page was sent (a link into a large catalog): ask for them. */
  async function learnChosen() {
    const unknown = state().metrics.filter((name) => !catalog.has(name));
    if (!Dash.config.truncated || !unknown.length) return;
    await Promise.all(
      unknown.map(async (name) => {
        const response = await fetch(Dash.config.namesUrl + "?q=" + encodeURIComponent(name), { credentials: "same-origin" });
        if (response.ok) remember((await response.json()).names.filter((entry) => entry.name === name));
      })
    );
  }

  function toggleMetric(name) {
    const st = state();
    const metrics = st.metrics.includes(name) ? st.metrics.filter((m) => m !== name) : [...st.metrics, name];
    Dash.setParams({ metric: metrics.length ? metrics : null }, true);
    rebuild();
  }

  function renderChosen(st) {
    const chosen = document.getElementById("chosen");
    chosen.replaceChildren(
      ...st.metrics.map((name) => {
        const chip = document.createElement("span");
        chip.className = "chip";
        chip.textContent = name;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", Dash.fmt(S.remove, { name }));
        remove.addEventListener("click", () => toggleMetric(name));
        chip.append(remove);
        return chip;
      })
    );
  }

  function renderHosts(st) {
    const box = document.getElementById("host-choice");
    const legend = box.querySelector("legend");
    const all = hostsOf(st.metrics);
    const chosen = st.hosts.length ? st.hosts : all;
    const boxes = [ALL, ...all].map((host) => {
      const label = document.createElement("label");
      label.className = "check";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = host;
      input.checked = host === ALL ? chosen.includes(ALL) : !chosen.includes(ALL) && chosen.includes(host);
      input.addEventListener("change", () => {
        let hosts;
        if (host === ALL) hosts = input.checked ? [ALL] : [];
        else {
          const current = chosen.includes(ALL) ? [] : chosen.slice();
          hosts = input.checked ? [...new Set([...current, host])] : current.filter((h) => h !== host);
        }
        const sameAsAll = hosts.length === all.length && all.every((h) => hosts.includes(h));
        Dash.setParams({ host: hosts.length && !sameAsAll ? hosts : null }, true);
        rebuild();
      });
      label.append(input, " ", host === ALL ? S.allHosts : host || "∅");
      return label;
    });
    box.replaceChildren(legend, ...boxes);
  }

  function renderLinks(st, range) {
    const section = document.getElementById("raw-links");
    const list = section.querySelector("ul");
    const iso = (s) => new Date(s * 1000).toISOString();
    const drawn = lines(st);
    list.replaceChildren(
      ...drawn.map((line) => {
        const q = new URLSearchParams({ name: line.name });
        if (line.host != null) q.set("host", line.host);
        q.set("since", iso(range[0]));
        q.set("until", iso(range[1]));
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = Dash.config.resourcesUrl + "?" + q.toString();
        a.textContent = `${line.name} @ ${line.host == null ? S.allHosts : line.host}`;
        li.append(a);
        return li;
      })
    );
    section.hidden = drawn.length === 0;
  }

  // ---- charts ------------------------------------------------------------------------------

  function rebuild() {
    const st = state();
    renderList();
    renderChosen(st);
    renderHosts(st);
    document.getElementById("aggregate").value = st.aggregate;
    document.getElementById("step").value = st.step;
    document.getElementById("overlay").checked = st.overlay;
    records.forEach(Dash.dropChart);
    const area = document.getElementById("explore-charts");
    area.replaceChildren();
    records = chartsFor(st).map((chart) => {
      const figure = document.createElement("figure");
      figure.className = "chart";
      figure.dataset.chart = chart.id;
      const caption = document.createElement("figcaption");
      caption.textContent = chart.title;
      const plot = document.createElement("div");
      plot.className = "plot";
      figure.append(caption, plot);
      area.append(figure);
      return Dash.makeChart(plot, chart);
    });
    set = new Dash.ChartSet(records);
    if (!records.length) {
      Dash.say(S.pickMetric, "");
      renderLinks(st, Dash.currentRange());
      return;
    }
    reload();
  }

  const STEP_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 };

  async function load() {
    const st = state();
    const match = /^(\d+)([smhd])$/.exec(st.step);
    const done = await set.load(match ? Number(match[1]) * STEP_SECONDS[match[2]] : undefined);
    renderLinks(st, Dash.currentRange());
    return done;
  }

  let reload = () => null;

  Dash.ready(() => {
    remember(Dash.config.names || []);
    document.getElementById("metric-search").addEventListener("input", () => {
      renderList();
      searchServer();
    });
    document.getElementById("aggregate").addEventListener("change", (e) => {
      Dash.setParams({ agg: e.target.value === "avg" ? null : e.target.value }, true);
      rebuild();
    });
    document.getElementById("step").addEventListener("change", (e) => {
      Dash.setParams({ step: e.target.value === "auto" ? null : e.target.value }, true);
      rebuild();
    });
    document.getElementById("overlay").addEventListener("change", (e) => {
      Dash.setParams({ overlay: e.target.checked ? null : "0" }, true);
      rebuild();
    });
    window.addEventListener("popstate", rebuild);
    learnChosen().finally(() => {
      rebuild();
      const runner = Dash.run(async () => {
        if (records.length) return load();
        Dash.say(S.pickMetric, ""); // nothing chosen: say what to do, not "Loading…"
        return null;
      });
      reload = runner.refresh;
    });
  });
})();
