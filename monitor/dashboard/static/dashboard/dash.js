/* The dashboard's shared behaviour: time range and state in the URL, one batch request for every
 * chart, uPlot charts with a shared crosshair and drag-to-zoom, gaps, units, auto refresh that
 * pauses while the tab is hidden. Each page's own script (fleet.js, host.js, explore.js) uses it
 * through window.Dash. No build step: plain ES2020, loaded with `defer` after uPlot. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("dash-config").textContent);
  const S = config.strings;
  const zh = (config.lang || "").startsWith("zh");
  const locale = zh ? "zh-CN" : "en";
  const PRESETS = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };
  const DEFAULT_RANGE = "1h";
  // Steps a chart may ask for: the per-minute and per-hour rollups serve multiples of 60 and 3600.
  const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const BATCH_ITEMS = 200; // BATCH_MAX_ITEMS: a longer list goes in several requests
  const BATCH_POINTS = 250000; // BATCH_MAX_POINTS
  const SERIES_POINTS = 11000; // storage/queries.py MAX_POINTS: per series
  const COLORS = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#f783ac",
    "#37872d", "#c4162a", "#1f60c4", "#fa6400"];

  const listeners = { range: [] };
  const charts = new Set();
  const stats = { requests: 0, loads: 0, lastMs: null, step: null, from: null, to: null };

  // ---- text -------------------------------------------------------------------------------

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, (_, key) => (key in values ? values[key] : ""));
  }

  function number(v, digits) {
    const a = Math.abs(v);
    // Past what grouped digits can show in a legend (the API takes values up to 1e300), or too small
    // to show as a decimal: 1.23e+20, 4.5e-7.
    if (a >= 1e15 || (a > 0 && a < 1e-3)) return v.toExponential(2).replace(/\.?0+e/, "e");
    return new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(v);
  }

  function digitsFor(v) {
    const a = Math.abs(v);
    return a >= 100 || a === 0 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  }

  function scaled(v, base, units) {
    let i = 0;
    let x = v;
    while (Math.abs(x) >= base && i < units.length - 1) {
      x /= base;
      i += 1;
    }
    return number(x, digitsFor(x)) + (units[i] ? " " + units[i] : "");
  }

  /** Indexes of the values with no value on either side. */
  function isolated(values) {
    const found = [];
    for (let i = 0; i < values.length; i++) {
      if (values[i] != null && values[i - 1] == null && values[i + 1] == null) found.push(i);
    }
    return found;
  }

  const SI = ["", "k", "M", "G", "T", "P"];
  const IEC = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

  function duration(v) {
    const a = Math.abs(v);
    if (a < 120) return number(v, digitsFor(v)) + " s";
    if (a < 7200) return number(v / 60, 1) + (zh ? " 分钟" : " min");
    if (a < 172800) return number(v / 3600, 1) + (zh ? " 小时" : " h");
    return number(v / 86400, 1) + (zh ? " 天" : " d");
  }

  /** A function that writes a value of this unit for people: 1.5 GiB, 12.3 %, 4.2 k/s, 3.1 h. */
  function formatter(unit) {
    return function (v) {
      if (v == null || Number.isNaN(v)) return "–";
      switch (unit) {
        case "%":
          return number(v, digitsFor(v)) + " %";
        case "bytes":
          return scaled(v, 1024, IEC);
        case "bytes/s":
          return scaled(v, 1024, IEC) + "/s";
        case "/s":
          return scaled(v, 1000, SI) + "/s";
        case "/min":
          return scaled(v, 1000, SI) + "/min";
        case "s":
          return duration(v);
        case "up":
          return v >= 1 ? S.up || "up" : v <= 0 ? S.down || "down" : number(v, 2);
        default:
          return scaled(v, 1000, SI);
      }
    };
  }

  const dateTime = new Intl.DateTimeFormat(locale, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23",
  });

  function when(seconds) {
    return dateTime.format(new Date(seconds * 1000));
  }

  function stepText(step) {
    if (step % 86400 === 0) return step / 86400 + (zh ? " 天" : " d");
    if (step % 3600 === 0) return step / 3600 + (zh ? " 小时" : " h");
    if (step % 60 === 0) return step / 60 + (zh ? " 分钟" : " min");
    return step + (zh ? " 秒" : " s");
  }

  // ---- state in the URL ------------------------------------------------------------------

  function params() {
    return new URLSearchParams(location.search);
  }

  /** The time range the URL asks for: {range} (a preset, relative to now) or {from, to} (seconds). */
  function timeState() {
    const q = params();
    const from = Number(q.get("from"));
    const to = Number(q.get("to"));
    if (q.has("from") && q.has("to") && Number.isFinite(from) && Number.isFinite(to) && from < to) {
      return { absolute: true, from, to };
    }
    const range = q.get("range");
    return { absolute: false, range: range in PRESETS ? range : config.defaultRange || DEFAULT_RANGE };
  }

  /** [from, to] in seconds now. */
  function currentRange() {
    const state = timeState();
    if (state.absolute) return [state.from, state.to];
    const now = Date.now() / 1000;
    return [now - PRESETS[state.range], now];
  }

  /** Change the querystring: pushed (back undoes it) or replaced; null removes a key. */
  function setParams(updates, push) {
    const q = params();
    for (const [key, value] of Object.entries(updates)) {
      q.delete(key);
      if (value == null) continue;
      for (const one of Array.isArray(value) ? value : [value]) q.append(key, one);
    }
    const text = q.toString();
    const url = location.pathname + (text ? "?" + text : "") + location.hash;
    history[push ? "pushState" : "replaceState"](null, "", url);
    keepTimeInLinks();
  }

  function timeQuery() {
    const q = params();
    const kept = new URLSearchParams();
    for (const key of ["range", "from", "to", "refresh"]) if (q.has(key)) kept.set(key, q.get(key));
    return kept.toString();
  }

  /** Links marked data-keep-time carry the current range to the next page. */
  function keepTimeInLinks() {
    const query = timeQuery();
    document.querySelectorAll("a[data-keep-time]").forEach((a) => {
      const base = a.getAttribute("href").split("?")[0];
      a.setAttribute("href", query ? base + "?" + query : base);
    });
  }

  function changedRange() {
    syncTimebar();
    listeners.range.forEach((fn) => fn());
  }

  function zoomTo(from, to) {
    if (!(to - from >= 1)) return;
    from = Math.floor(from);
    to = Math.ceil(to);
    const state = timeState();
    // Every synced chart reports the same selection: the first one zooms, the others find it done.
    if (state.absolute && state.from === from && state.to === to) return;
    setParams({ from, to, range: null }, true);
    charts.forEach((c) => {
      if (c.mini) return;
      c.range = [from, to];
      c.u.setScale("x", { min: from, max: to });
    });
    changedRange();
  }

  function zoomOut() {
    const [from, to] = currentRange();
    const span = to - from;
    const now = Date.now() / 1000;
    const newTo = Math.min(now, to + span / 2);
    zoomTo(newTo - span * 2, newTo);
  }

  // ---- steps and the batch request ---------------------------------------------------------

  /** The step that gives about one point per pixel (never finer than the collection interval). */
  function stepFor(seconds, width, lines) {
    // width - 1: a range that does not start on a bucket boundary touches one bucket more.
    const wanted = Math.max(config.minStep || 1, seconds / Math.max(50, width - 1));
    let step = STEPS.find((s) => s >= wanted) || Math.ceil(wanted / 86400) * 86400;
    // Stay within the batch's bound on points (all lines together).
    while (lines && lines * (seconds / step + 1) > BATCH_POINTS) {
      step = STEPS.find((s) => s > step) || step * 2;
    }
    return step;
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /** Every item's values over [from, to) at `step`, aligned on one `times` array (null: no data). */
  async function fetchSeries(items, from, to, step) {
    const chunks = [];
    for (let i = 0; i < items.length; i += BATCH_ITEMS) chunks.push(items.slice(i, i + BATCH_ITEMS));
    const answers = await Promise.all(
      chunks.map(async (chunk) => {
        stats.requests += 1;
        const response = await fetch(config.batchUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify({ since: from, until: to, step, fill: true, items: chunk }),
        });
        if (!response.ok) {
          let detail = response.status + " " + response.statusText;
          try {
            const body = await response.json();
            detail = body.detail || JSON.stringify(body);
          } catch (e) { /* not JSON */ }
          throw new Error(detail);
        }
        return response.json();
      })
    );
    const times = answers.length ? answers[0].times : [];
    return { times, results: answers.flatMap((a) => a.results) };
  }

  function itemKey(item) {
    return JSON.stringify([item.name, item.host == null ? null : item.host, item.aggregate || "avg"]);
  }

  // ---- gaps ----------------------------------------------------------------------------------

  /** Nulls where a bucket had no data; a run shorter than the series' own spacing is joined over (a
   *  sample every 15 s seen at a 10 s step), a longer one stays a gap (uPlot: null breaks, undefined joins). */
  function withGaps(values) {
    const spacing = new Map();
    let previous = -1;
    for (let i = 0; i < values.length; i++) {
      if (values[i] == null) continue;
      if (previous >= 0) spacing.set(i - previous, (spacing.get(i - previous) || 0) + 1);
      previous = i;
    }
    let usual = 1;
    let seen = 0;
    spacing.forEach((count, distance) => {
      if (count > seen || (count === seen && distance < usual)) {
        usual = distance;
        seen = count;
      }
    });
    const out = values.slice();
    previous = -1;
    for (let i = 0; i < values.length; i++) {
      if (values[i] == null) continue;
      if (previous >= 0 && i - previous > 1 && i - previous <= 2 * usual) {
        for (let j = previous + 1; j < i; j++) out[j] = undefined;
      }
      previous = i;
    }
    return out;
  }

  // ---- charts --------------------------------------------------------------------------------

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function alpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }

  const names = zh
    ? {
      MMMM: Array.from({ length: 12 }, (_, i) => i + 1 + "月"),
      MMM: Array.from({ length: 12 }, (_, i) => i + 1 + "月"),
      WWWW: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      WWW: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
    }
    : null;
  const md = zh ? "{M}月{D}日" : "{MM}-{DD}";
  const ymd = zh ? "{YYYY}年{M}月{D}日" : "{YYYY}-{MM}-{DD}";
  const year = zh ? "{YYYY}年" : "{YYYY}";
  // 24-hour clock in both languages; the date under the first tick of a day (uPlot's axis table).
  const TIME_AXIS = [
    [31536000, year, null, null, null, null, null, null, 1],
    [2419200, "{MMM}", "\n" + year, null, null, null, null, null, 1],
    [86400, md, "\n" + year, null, null, null, null, null, 1],
    [3600, "{HH}:{mm}", "\n" + ymd, null, "\n" + md, null, null, null, 1],
    [60, "{HH}:{mm}", "\n" + ymd, null, "\n" + md, null, null, null, 1],
    [1, "{HH}:{mm}:{ss}", "\n" + ymd + " {HH}:{mm}", null, "\n" + md + " {HH}:{mm}", null, "\n{HH}:{mm}", null, 1],
  ];

  // The value axis grows with its labels up to AXIS_MAX px; the step is chosen for the narrowest plot.
  const AXIS_MAX = 90;

  function axisSize(values) {
    const longest = values ? Math.max(0, ...values.map((v) => String(v).length)) : 4;
    return Math.min(AXIS_MAX, Math.max(44, 6.5 * longest + 12));
  }

  function stack(columns) {
    const sums = [];
    return columns.map((column) =>
      column.map((v, i) => {
        if (v == null) return v;
        sums[i] = (sums[i] || 0) + v;
        return sums[i];
      })
    );
  }

  /** A uPlot chart in `el` for `chart` ({title, unit, lines, stacked, percent}); `mini` for sparklines. */
  function makeChart(el, chart, options) {
    const mini = !!(options && options.mini);
    const show = formatter(chart.unit);
    const axisColor = css("--muted");
    const grid = css("--grid");
    const width = Math.max(50, Math.floor(el.clientWidth));
    const height = mini ? 30 : 170;
    const record = { el, chart, u: null, raw: [], width, mini };
    const series = [
      { label: S.time, value: (u, v) => (v == null ? "–" : when(v)) },
      ...chart.lines.map((line, i) => {
        const color = COLORS[i % COLORS.length];
        return {
          label: line.label,
          stroke: color,
          width: mini ? 1 : 1.5,
          fill: chart.stacked || chart.lines.length === 1 || mini ? alpha(color, chart.stacked ? 0.35 : 0.12) : undefined,
          spanGaps: false,
          // No dots on lines; a sample with no neighbour draws no line, so it gets a dot.
          points: { show: true, size: mini ? 3 : 5, filter: (u, si) => isolated(u.data[si]) },
          value: (u, v, si, di) => {
            const raw = record.raw[si - 1];
            return show(di == null || !raw ? v : raw[di]);
          },
        };
      }),
    ];
    const opts = {
      width,
      height,
      class: mini ? "spark" : "chart",
      series,
      legend: { show: !mini, live: true },
      padding: mini ? [2, 0, 2, 0] : [8, 8, 0, 0],
      cursor: mini
        ? { show: false }
        : {
          sync: { key: "dash", setSeries: false },
          drag: { x: true, y: false, setScale: false },
          points: { size: 6 },
          bind: { dblclick: () => null },
        },
      select: { show: !mini },
      scales: {
        x: { time: true, range: (u, min, max) => record.range || [min, max] },
        y: {
          range: (u, min, max) => {
            if (min == null) return chart.percent ? [0, 100] : [0, 1];
            const lo = Math.min(0, min);
            if (chart.percent && max <= 100) return [lo, 100];
            if (chart.unit === "up") return [0, 1.05];
            // A flat line gets room around it in proportion to its size (lo + 1 is lo itself at 1e20).
            const hi = max === lo ? lo + Math.max(1, Math.abs(lo) * 0.1) : max + (max - lo) * 0.08;
            return [lo, hi];
          },
        },
      },
      axes: mini
        ? [{ show: false }, { show: false }]
        : [
          {
            stroke: axisColor,
            grid: { stroke: grid, width: 1 },
            ticks: { stroke: grid, width: 1 },
            values: TIME_AXIS,
            font: "11px system-ui, sans-serif",
          },
          {
            stroke: axisColor,
            grid: { stroke: grid, width: 1 },
            ticks: { show: false },
            values: (u, splits) => splits.map((v) => show(v)),
            size: (u, values) => axisSize(values),
            font: "11px system-ui, sans-serif",
          },
        ],
      hooks: mini ? {} : {
        // Away from the cursor the legend shows the newest values, as Netdata does.
        setCursor: [(u) => (u.cursor.idx == null && record.lastIdx != null ? u.setLegend({ idx: record.lastIdx }) : null)],
        setSelect: [
          (u) => {
            if (u.select.width > 4) {
              const from = u.posToVal(u.select.left, "x");
              const to = u.posToVal(u.select.left + u.select.width, "x");
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              zoomTo(from, to);
            }
          },
        ],
      },
    };
    if (chart.stacked) {
      opts.bands = chart.lines.slice(1).map((_, i) => ({ series: [i + 2, i + 1], fill: alpha(COLORS[(i + 1) % COLORS.length], 0.35) }));
    }
    if (zh) opts.fmtDate = (tpl) => uPlot.fmtDate(tpl, names);
    el.dataset.empty = S.noData;
    record.u = new uPlot(opts, [[], ...chart.lines.map(() => [])], el);
    if (!mini) {
      record.u.over.addEventListener("dblclick", zoomOut);
      record.u.over.title = S.zoomHint;
    }
    charts.add(record);
    return record;
  }

  /** Give a chart its columns: `times` and one array per line (nulls where no data). */
  function setData(record, times, columns, range) {
    if (!charts.has(record)) return; // dropped while its data was on the way
    record.raw = columns;
    record.range = range;
    const drawn = columns.map(withGaps);
    record.u.setData([times, ...(record.chart.stacked ? stack(drawn) : drawn)]);
    record.hasData = columns.some((c) => c.some((v) => v != null));
    record.lastIdx = null;
    for (let i = times.length - 1; i >= 0 && record.lastIdx == null; i--) {
      if (columns.some((c) => c[i] != null)) record.lastIdx = i;
    }
    if (!record.mini && record.lastIdx != null && record.u.cursor.idx == null) record.u.setLegend({ idx: record.lastIdx });
    record.el.classList.toggle("empty", !record.hasData);
  }

  function dropChart(record) {
    record.u.destroy();
    charts.delete(record);
  }

  /** Charts that share one batch request: builds the items, sizes the step to their width, fills them. */
  class ChartSet {
    constructor(records) {
      this.records = records;
      this.loading = null;
    }

    items() {
      const seen = new Map();
      for (const record of this.records) {
        for (const line of record.chart.lines) {
          const item = { name: line.name, aggregate: line.aggregate || "avg" };
          if (line.host != null) item.host = line.host;
          const key = itemKey(item);
          if (!seen.has(key)) seen.set(key, item);
        }
      }
      return [...seen.values()];
    }

    async load(fixedStep) {
      if (!this.records.length) return null;
      const [from, to] = currentRange();
      this.records.forEach(fitWidth); // the layout may have moved since the charts were made
      // The plot's width once its value axis has its labels (up to AXIS_MAX) and padding.
      const width = Math.min(...this.records.map((r) => r.width - AXIS_MAX - 8));
      const items = this.items();
      let step = fixedStep || stepFor(to - from, width, items.length);
      const buckets = (to - from) / step + 1;
      if (fixedStep && (buckets > SERIES_POINTS || items.length * buckets > BATCH_POINTS)) {
        // A chosen step this range cannot hold (10 s over 30 days): the one the range can, which the
        // status line then names, rather than the server's refusal.
        step = Math.max(fixedStep, stepFor(to - from, width, items.length));
      }
      const since = Math.floor(from / step) * step;
      const started = performance.now();
      const answer = await fetchSeries(items, since, to, step);
      const byKey = new Map(answer.results.map((r) => [itemKey({ name: r.name, host: r.host, aggregate: r.aggregate }), r.values]));
      for (const record of this.records) {
        const columns = record.chart.lines.map((line) =>
          byKey.get(itemKey({ name: line.name, host: line.host == null ? null : line.host, aggregate: line.aggregate || "avg" })) || []
        );
        setData(record, answer.times, columns, [from, to]);
      }
      stats.loads += 1;
      stats.lastMs = Math.round(performance.now() - started);
      stats.step = step;
      stats.from = from;
      stats.to = to;
      document.body.dataset.loads = String(stats.loads);
      if (stats.loads === 1) performance.mark("dash:charts-drawn");
      return { step, from, to };
    }
  }

  // ---- resizing ------------------------------------------------------------------------------

  /** Follow the chart's box; true when its width changed. */
  function fitWidth(record) {
    const width = Math.max(50, Math.floor(record.el.clientWidth));
    if (width === record.width) return false;
    record.width = width;
    record.u.setSize({ width, height: record.u.height });
    return true;
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      let changed = false;
      charts.forEach((record) => {
        changed = fitWidth(record) || changed;
      });
      // Another width wants another step: one point per pixel again.
      if (changed) listeners.range.forEach((fn) => fn());
    }, 250);
  });

  // ---- auto refresh ----------------------------------------------------------------------------

  const status = () => document.getElementById("status");

  function say(text, kind) {
    const el = status();
    if (!el) return;
    el.textContent = text;
    el.dataset.kind = kind || "";
  }

  /** Run `load` now, and again every refresh period while the range is relative and the tab visible.
   *  `load` returns {step} (the refresh follows the step when the choice is "auto"). */
  function run(load) {
    let timer = null;
    let lastStep = config.minStep || 10;
    let busy = false;
    let pending = false;

    function period() {
      const choice = params().get("refresh") || "auto";
      if (timeState().absolute || choice === "off") return null;
      if (choice === "auto") return Math.max(config.minStep || 10, lastStep);
      const match = /^(\d+)(s|m)$/.exec(choice);
      return match ? Number(match[1]) * (match[2] === "m" ? 60 : 1) : null;
    }

    function schedule() {
      clearTimeout(timer);
      if (document.hidden) {
        say(S.paused, "paused");
        return;
      }
      const seconds = period();
      if (seconds == null) return;
      timer = setTimeout(tick, seconds * 1000);
    }

    async function tick() {
      clearTimeout(timer);
      if (busy) {
        pending = true;
        return;
      }
      busy = true;
      try {
        const done = await load();
        if (done && done.step) lastStep = done.step;
        const abs = timeState().absolute;
        if (done) say(
          fmt(S.updated, { time: new Date().toLocaleTimeString(locale, { hourCycle: "h23" }) }) +
          (done && done.step ? " · " + fmt(S.step, { step: stepText(done.step) }) : "") +
          (abs ? " · " + S.absolute : ""),
          "ok"
        );
      } catch (error) {
        say(fmt(S.failed, { error: error.message }), "error");
      } finally {
        busy = false;
      }
      if (pending) {
        pending = false;
        return tick();
      }
      schedule();
    }

    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        clearTimeout(timer);
        say(S.paused, "paused");
      } else {
        tick(); // back in view: bring it up to date at once, then on schedule
      }
    });
    listeners.range.push(tick);
    window.addEventListener("popstate", changedRange);
    const choice = document.getElementById("refresh");
    if (choice) {
      choice.value = params().get("refresh") || "auto";
      choice.addEventListener("change", () => {
        setParams({ refresh: choice.value === "auto" ? null : choice.value }, false);
        schedule();
      });
    }
    say(S.loading, "loading");
    const first = tick();
    return { refresh: tick, first };
  }

  // ---- the time bar ----------------------------------------------------------------------------

  function localInput(seconds) {
    const d = new Date(seconds * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function syncTimebar() {
    const state = timeState();
    document.querySelectorAll("[data-range]").forEach((b) => {
      b.setAttribute("aria-pressed", String(!state.absolute && b.dataset.range === state.range));
    });
    const [from, to] = currentRange();
    const custom = document.getElementById("custom-range");
    if (custom) {
      custom.querySelector("[name=from]").value = localInput(from);
      custom.querySelector("[name=to]").value = localInput(to);
      custom.classList.toggle("active", state.absolute);
    }
    const label = document.getElementById("range-label");
    if (label) label.textContent = state.absolute ? when(from) + " – " + when(to) : "";
  }

  function bindTimebar() {
    document.querySelectorAll("[data-range]").forEach((button) => {
      button.addEventListener("click", () => {
        setParams({ range: button.dataset.range, from: null, to: null }, true);
        changedRange();
      });
    });
    const custom = document.getElementById("custom-range");
    if (custom) {
      custom.addEventListener("submit", (event) => {
        event.preventDefault();
        const from = new Date(custom.querySelector("[name=from]").value).getTime() / 1000;
        const to = new Date(custom.querySelector("[name=to]").value).getTime() / 1000;
        if (!(from < to)) {
          say(S.badRange, "error");
          return;
        }
        setParams({ from: Math.floor(from), to: Math.ceil(to), range: null }, true);
        custom.closest("details").open = false;
        changedRange();
      });
    }
    const language = document.getElementById("language");
    // requestSubmit, not submit: only it fires the form's submit event, where data-keep-url puts
    // the page's current URL (range, zoom, explorer state) in `next`.
    if (language) language.addEventListener("change", () => language.form.requestSubmit());
    const hostPicker = document.getElementById("host-picker");
    if (hostPicker) {
      hostPicker.addEventListener("change", () => {
        if (!hostPicker.value) return;
        const query = timeQuery();
        location.href = hostPicker.value + (query ? "?" + query : "");
      });
    }
    document.querySelectorAll("form[data-keep-url]").forEach((form) => {
      form.addEventListener("submit", () => {
        form.querySelector("[name=next]").value = location.pathname + location.search;
      });
    });
    syncTimebar();
    keepTimeInLinks();
  }

  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  ready(bindTimebar);

  window.Dash = {
    config, strings: S, locale, zh, charts, stats,
    fmt, formatter, when, stepText, stepFor, params, setParams, timeState, currentRange, timeQuery,
    fetchSeries, makeChart, setData, dropChart, ChartSet, withGaps, run, ready, say, zoomTo, keepTimeInLinks,
    onRange: (fn) => listeners.range.push(fn),
  };
})();
