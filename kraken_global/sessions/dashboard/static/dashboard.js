// kraken-global dashboard: draws the document of kraken_global/sessions/dashboard/views.py.
// A running session serves it at /api/snapshot (polled); a report file carries it inline in #kg-data.
// Everything is drawn with DOM text nodes and SVG elements (never innerHTML): values cannot inject markup.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const REGIME_COLOURS = { RISK_ON: "#2ca02c", NEUTRAL: "#b0b0b0", RISK_OFF: "#ff7f0e", PANIC: "#d62728",
    WARMUP: "#6a5acd" };
  const LINES = [["value", "#2563eb", "portfolio"], ["baseline", "#7a5af8", "baseline"],
    ["benchmark", "#9a6700", "buy & hold"]];
  const ACTION_TEXT = {
    pause: "Pause new entries? The broker refuses every buy; exits and reductions go on.",
    resume: "Resume new entries?",
    flatten: "Flatten? Entries are paused, the bot's open orders cancelled and the positions it built sold at market.",
    stop: "Stop the session? It finishes the current bar, writes every result file and exits."
  };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function show(id, visible) { $(id).hidden = !visible; }

  function format(value) {
    if (value === null || value === undefined) return "-";
    if (typeof value === "number") {
      if (!isFinite(value)) return "-";
      if (Number.isInteger(value)) return String(value);
      const digits = Math.abs(value) >= 100 ? 2 : Math.abs(value) >= 1 ? 4 : 8;
      return value.toLocaleString("en-US", { maximumFractionDigits: digits });
    }
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function time(text) { return Date.parse(String(text).replace(" ", "T") + (/[zZ+]/.test(text) ? "" : "Z")); }

  // -- cards and tables ------------------------------------------------------------------------------------

  function cards(target, rows) {
    clear(target);
    for (const [label, value] of rows) {
      const card = el("div");
      card.appendChild(el("dt", {}, label));
      card.appendChild(el("dd", {}, format(value)));
      target.appendChild(card);
    }
  }

  function tableSection(id, data) {
    if (!data || !data.columns) return null;
    const section = el("section", { id: id });
    section.appendChild(el("h2", {}, data.title || id));
    if (!data.rows.length) {
      section.appendChild(el("p", { class: "muted" }, "none"));
      return section;
    }
    const wrap = el("div", { class: "table-wrap" });
    const table = el("table");
    const head = el("tr");
    data.columns.forEach((c) => head.appendChild(el("th", {}, c)));
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    for (const row of data.rows) {
      const tr = el("tr");
      row.forEach((value, i) => {
        const cls = typeof value === "number" ? "num" : value === true ? "ok" : value === false ? "bad" : "";
        tr.appendChild(el("td", cls ? { class: cls, "data-column": data.columns[i] } :
          { "data-column": data.columns[i] }, format(value)));
      });
      body.appendChild(tr);
    }
    table.appendChild(body);
    wrap.appendChild(table);
    section.appendChild(wrap);
    return section;
  }

  function health(rows) {
    const table = $("health");
    clear(table);
    for (const [label, value, ok] of rows) {
      const tr = el("tr");
      tr.appendChild(el("th", {}, label));
      tr.appendChild(el("td", ok === false ? { class: "bad" } : ok === true ? { class: "ok" } : {}, format(value)));
      table.appendChild(tr);
    }
  }

  // -- charts --------------------------------------------------------------------------------------------------

  function scale(values, height, pad) {
    const finite = values.filter((v) => v !== null && isFinite(v));
    let low = Math.min(...finite), high = Math.max(...finite);
    if (!finite.length) { low = 0; high = 1; }
    if (high - low < 1e-9) { high += 1; low -= 1; }
    return { low, high, y: (v) => pad + (height - 2 * pad) * (1 - (v - low) / (high - low)) };
  }

  function path(xs, ys) {
    let d = "", pen = false;
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === null || !isFinite(ys[i])) { pen = false; continue; }
      d += (pen ? "L" : "M") + xs[i].toFixed(1) + "," + ys[i].toFixed(1);
      pen = true;
    }
    return d;
  }

  function axisLabels(chart, scaleY, width, height, times) {
    for (const v of [scaleY.low, (scaleY.low + scaleY.high) / 2, scaleY.high]) {
      const y = scaleY.y(v);
      chart.appendChild(svg("line", { x1: 0, x2: width, y1: y, y2: y, stroke: "#eaecf0" }));
      const label = svg("text", { x: 4, y: y - 3, "font-size": 11, fill: "#667085" });
      label.textContent = format(Math.round(v * 100) / 100);
      chart.appendChild(label);
    }
    if (times.length) {
      for (const [x, anchor, t] of [[4, "start", times[0]], [width - 4, "end", times[times.length - 1]]]) {
        const label = svg("text", { x: x, y: height - 4, "font-size": 11, fill: "#667085", "text-anchor": anchor });
        label.textContent = String(t).slice(0, 16);
        chart.appendChild(label);
      }
    }
  }

  function equityChart(equity, regimes) {
    const chart = $("equity-chart"), drawdown = $("drawdown-chart"), strip = $("regime-chart");
    [chart, drawdown, strip].forEach(clear);
    const legend = $("equity-legend");
    clear(legend);
    const times = equity.t.map(time);
    const first = times[0], last = times[times.length - 1];
    const span = Math.max(last - first, 1);
    const W = Math.max(chart.clientWidth || 900, 300), H = Math.max(chart.clientHeight || 258, 100);
    const DH = Math.max(drawdown.clientHeight || 88, 40);
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    drawdown.setAttribute("viewBox", "0 0 " + W + " " + DH);
    strip.setAttribute("viewBox", "0 0 " + W + " 24");
    strip.setAttribute("preserveAspectRatio", "none");
    show("regime-block", Boolean(regimes && regimes.length));
    const x = (t) => (times.length < 2 ? W / 2 : ((t - first) / span) * (W - 8) + 4);
    const xs = times.map(x);
    const series = LINES.filter(([key]) => Array.isArray(equity[key]) && equity[key].some((v) => v !== null));
    const all = series.flatMap(([key]) => equity[key]);
    const s = scale(all, H, 16);
    axisLabels(chart, s, W, H, equity.t);
    for (const [key, colour, name] of series) {
      chart.appendChild(svg("path", { d: path(xs, equity[key].map((v) => (v === null ? null : s.y(v)))),
        fill: "none", stroke: colour, "stroke-width": key === "value" ? 2 : 1.3, "data-series": key }));
      if (xs.length === 1 && equity[key][0] !== null) {
        chart.appendChild(svg("circle", { cx: xs[0], cy: s.y(equity[key][0]), r: 3, fill: colour }));
      }
      const item = el("span");
      const swatch = el("i");
      swatch.style.background = colour;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(key === "benchmark" && equity.benchmark_name ?
        name + " " + equity.benchmark_name : name));
      legend.appendChild(item);
    }
    let peak = -Infinity;
    const dd = equity.value.map((v) => {
      if (v === null) return null;
      peak = Math.max(peak, v);
      return peak > 0 ? ((v - peak) / peak) * 100 : 0;
    });
    const low = Math.min(0, ...dd.filter((v) => v !== null));
    const dy = (v) => 4 + ((DH - 8) * v) / (low === 0 ? -1 : low);
    const area = path(xs, dd.map((v) => (v === null ? null : dy(v))));
    if (area) {
      drawdown.appendChild(svg("path", { d: area + "L" + xs[xs.length - 1].toFixed(1) + ",4L" + xs[0].toFixed(1) +
        ",4Z", fill: "#fda29b", stroke: "#d92d20", "stroke-width": 1 }));
    }
    const label = svg("text", { x: 4, y: DH - 4, "font-size": 11, fill: "#667085" });
    label.textContent = "drawdown, worst " + low.toFixed(2) + "%";
    drawdown.appendChild(label);
    const seen = new Set();
    (regimes || []).forEach((run, i) => {
      const next = regimes[i + 1];
      const left = x(time(run.from)), right = next ? x(time(next.from)) : x(time(run.to));
      strip.appendChild(svg("rect", { x: left, y: 0, width: Math.max(right - left, 2), height: 24,
        fill: REGIME_COLOURS[run.regime] || "#ccc", "data-regime": run.regime }));
      seen.add(run.regime);
    });
    const regimeLegend = $("regime-legend");
    clear(regimeLegend);
    for (const name of seen) {
      const item = el("span");
      const swatch = el("i");
      swatch.style.background = REGIME_COLOURS[name] || "#ccc";
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(name));
      regimeLegend.appendChild(item);
    }
  }

  // -- the document -------------------------------------------------------------------------------------------

  function render(doc) {
    document.title = "kraken-global: " + doc.title;
    $("title").textContent = doc.title;
    const state = $("state-badge");
    state.textContent = doc.live ? "running" : doc.kind;
    state.className = "badge " + (doc.live ? "ok" : "");
    $("generated").textContent = (doc.live ? "updated " : "generated ") + doc.generated;
    const controls = doc.controls;
    show("controls", Boolean(controls && controls.enabled && doc.live));
    show("paused-badge", Boolean(controls && controls.paused));
    if (controls && controls.failed) $("control-result").textContent = controls.failed;
    show("summary-section", Boolean(doc.summary));
    if (doc.summary) cards($("summary"), doc.summary);
    show("health-section", Boolean(doc.health));
    if (doc.health) health(doc.health);
    const hasEquity = Boolean(doc.equity && doc.equity.t && doc.equity.t.length);
    show("equity-section", hasEquity);
    if (hasEquity) equityChart(doc.equity, doc.regimes);
    show("ramp-section", Boolean(doc.ramp));
    if (doc.ramp) {
      const r = doc.ramp;
      cards($("ramp"), [["share of budget", (r.share * 100).toFixed(1) + "% (step " + r.step + " of " + r.steps + ")"],
        ["cap USD", r.cap_usd], ["budget USD", r.base_usd],
        ["next step", r.next_share === null ? "at the top" : (r.next_share * 100).toFixed(1) + "% after " +
          r.next_step_at],
        ["drawdown in step", r.drawdown_pct.toFixed(2) + "% (limit " + r.max_drawdown_pct + "%)"],
        ["kill switch in step", r.kill_switch ? "tripped" : "no"],
        ["fills vs model", r.gap_bps.toFixed(1) + " bps (tolerance " + format(r.parity_tolerance_bps) + ")"],
        ["last decision", r.last ? r.last.action + " " + (r.last.market_time || "") : "-"]]);
    }
    const tables = $("tables");
    clear(tables);
    const model = doc.model;
    if (model) {
      const facts = tableSection("model", { title: "model", columns: ["id", "sha256", "gates verdict"],
        rows: [[model.id, model.sha256, model.verdict || "unknown"]] });
      tables.appendChild(facts);
      if (model.gates) tables.appendChild(tableSection("model-gates", model.gates));
    }
    if (doc.parity) {
      const p = doc.parity;
      tables.appendChild(tableSection("parity", { title: "parity with the backtest",
        columns: ["identical", "differences", "fills cost USD", "fills cost bps"],
        rows: [[p.identical, p.differences, p.fills_cost_usd, p.fills_cost_bps]] }));
    }
    for (const [id, key] of [["positions", "positions"], ["open-orders", "open_orders"], ["fills", "fills"],
      ["gates", "gates"], ["results", "table"], ["shadow", "shadow"], ["audit", "audit"]]) {
      const section = tableSection(id, doc[key]);
      if (section) tables.appendChild(section);
    }
    show("log-section", Boolean(doc.log));
    if (doc.log) {
      const log = $("log");
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = doc.log.join("\n");
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
  }

  // -- controls -------------------------------------------------------------------------------------------------

  let pending = null;

  function ask(action) {
    pending = action;
    $("confirm-text").textContent = ACTION_TEXT[action];
    show("confirm", true);
  }

  async function send(action) {
    const token = $("token").value.trim();
    sessionStorage.setItem("kg-token", token);
    const result = $("control-result");
    result.textContent = action + ": sending...";
    try {
      const response = await fetch("/api/control/" + action, {
        method: "POST", cache: "no-store", credentials: "omit",
        headers: { "Content-Type": "application/json", "X-KG-Token": token },
        body: JSON.stringify({ confirm: action })
      });
      const answer = await response.json();
      result.textContent = response.ok ? action + ": " + answer.result : action + " refused: " + answer.error;
      result.dataset.state = response.ok ? "done" : "refused";
    } catch (error) {
      result.textContent = action + " failed: " + error;
      result.dataset.state = "failed";
    }
    refresh();
  }

  function wireControls() {
    $("token").value = sessionStorage.getItem("kg-token") || "";
    for (const button of document.querySelectorAll("#controls button[data-action]")) {
      button.addEventListener("click", () => ask(button.dataset.action));
    }
    $("confirm-yes").addEventListener("click", () => {
      show("confirm", false);
      if (pending) send(pending);
      pending = null;
    });
    $("confirm-no").addEventListener("click", () => {
      show("confirm", false);
      pending = null;
    });
  }

  // -- data -------------------------------------------------------------------------------------------------------

  let timer = null;

  async function refresh() {
    clearTimeout(timer);
    let live = true;
    try {
      const response = await fetch("/api/snapshot", { cache: "no-store" });
      const doc = await response.json();
      render(doc);
      live = doc.live;
      $("state-badge").classList.remove("bad");
    } catch (error) {
      const state = $("state-badge");
      state.textContent = "session not reachable (ended?)";
      state.className = "badge bad";
    }
    timer = setTimeout(refresh, live ? 1500 : 10000);
  }

  const inline = $("kg-data").textContent.trim();
  if (inline) {
    render(JSON.parse(inline));
  } else {
    wireControls();
    refresh();
  }
})();
