// pychrony dashboard: polls /api/snapshot and updates the page in place.
// Every value and label arrives formatted by the server (view.py, charts.py); this
// script only places text with textContent (never innerHTML) and draws the charts
// as SVG paths of its own (no library, nothing from the network but our server).
"use strict";

(function () {
  const body = document.body;
  const refreshMs = Math.max(500, parseInt(body.dataset.refresh, 10) || 2000);
  const snapshotUrl = body.dataset.snapshot || "api/snapshot";
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const W = 600; // the charts' viewBox
  const H = 160;
  const PAD = 8; // keeps the lines off the plot's top and bottom edge
  const STATE_CLASSES = ["ok", "warn", "bad"];
  const charts = {}; // id -> the last chart data, for hovering
  let timer = null;
  let inFlight = false;
  let lastGood = null; // Date of the last snapshot the server answered

  function setText(el, value) {
    const text = value === null || value === undefined ? "" : String(value);
    if (el.textContent !== text) el.textContent = text;
  }

  function setHidden(el, hidden) {
    if (el && el.hidden !== hidden) el.hidden = hidden;
  }

  // -- header, banner and stale sections --------------------------------------

  function renderStatus(v) {
    const s = v.status;
    setText($("last-read"), s.last_read);
    setText($("last-read-ago"), s.last_read_ago);
    setText($("last-attempt"), s.last_attempt);
    const live = $("live");
    live.classList.toggle("ok", v.ok);
    live.classList.toggle("bad", !v.ok);
    setText($("error-title"), "chronyd is unreachable.");
    setText($("error-text"), v.error || "");
    setText($("error-hint"), s.hint);
    setHidden($("error-banner"), v.ok);
    body.dataset.state = s.state;
  }

  // Each section that shows last-known values is dimmed and says "as of …".
  function renderStale(stale) {
    document.querySelectorAll("[data-stale]").forEach((el) => {
      const note = stale[el.dataset.stale] || "";
      setText(el, note);
      setHidden(el, !note);
      el.closest(".panel").classList.toggle("stale", !!note);
    });
    $("charts").classList.toggle("stale", !!stale.tracking);
  }

  // The dashboard server itself is not answering: keep everything, dim it all.
  function serverDown(message) {
    setText($("error-title"), "The dashboard server is not answering.");
    setText($("error-text"), message);
    const since = lastGood ? " since " + lastGood.toLocaleTimeString() : "";
    setText($("error-hint"), "Retrying every few seconds; the values below are the last shown" + since + ".");
    setHidden($("error-banner"), false);
    $("live").classList.replace("ok", "bad");
    document.querySelectorAll("main .panel").forEach((p) => p.classList.add("stale"));
    body.dataset.state = "server-down";
  }

  // -- tables -------------------------------------------------------------------

  function fillBits(el, bits) {
    if (el.dataset.value === bits) return;
    el.dataset.value = bits || "";
    const boxes = [];
    for (const b of bits || "") {
      const i = document.createElement("i");
      i.className = "bit " + (b === "1" ? "on" : "off");
      boxes.push(i);
    }
    el.replaceChildren(...boxes);
  }

  function fillRow(tr, row) {
    if (tr.className !== (row.classes || "")) tr.className = row.classes || "";
    if (tr.dataset.key !== (row.key || "")) tr.dataset.key = row.key || "";
    tr.querySelectorAll("[data-f]").forEach((el) => setText(el, row[el.dataset.f]));
    tr.querySelectorAll("[data-bits]").forEach((el) => fillBits(el, row[el.dataset.bits]));
  }

  function renderRows(tbodyId, templateId, emptyId, rows) {
    if (rows === null || rows === undefined) return; // never answered: keep "no data yet"
    const tbody = $(tbodyId);
    const template = $(templateId).content.querySelector("tr");
    // Update the rows in place (no flicker, selections survive); add or drop rows
    // when the number of sources changed.
    while (tbody.rows.length > rows.length) tbody.deleteRow(-1);
    while (tbody.rows.length < rows.length) tbody.appendChild(template.cloneNode(true));
    rows.forEach((row, i) => fillRow(tbody.rows[i], row));
    const empty = $(emptyId);
    setText(empty, empty.dataset.empty);
    setHidden(empty, rows.length > 0);
  }

  // -- stat boxes ---------------------------------------------------------------

  function setClass(el, cls) {
    el.classList.remove(...STATE_CLASSES);
    if (cls) el.classList.add(cls);
  }

  function renderTracking(t, sync) {
    document.querySelectorAll("[data-s]").forEach((el) => setText(el, sync[el.dataset.s]));
    document.querySelectorAll("[data-sclass]").forEach((el) => setClass(el, sync[el.dataset.sclass]));
    document.querySelectorAll("[data-never]").forEach((el) => setHidden(el, !!t));
    if (!t) return;
    document.querySelectorAll("[data-t]").forEach((el) => setText(el, t[el.dataset.t]));
    document.querySelectorAll("[data-tclass]").forEach((el) => setClass(el, t[el.dataset.tclass]));
  }

  function renderRtc(rtc) {
    if (!rtc) return;
    setHidden($("rtc-unknown"), true);
    setHidden($("rtc-stats"), !rtc.configured);
    setHidden($("rtc-missing"), !!rtc.configured);
    if (rtc.configured) {
      document.querySelectorAll("[data-r]").forEach((el) => setText(el, rtc[el.dataset.r]));
    }
  }

  function renderErrors(errors) {
    document.querySelectorAll("[data-error]").forEach((el) => {
      const message = (errors || {})[el.dataset.error];
      setText(el, message || "");
      setHidden(el, !message);
    });
  }

  // -- charts -------------------------------------------------------------------

  function xOf(chart, ago) {
    return W * (1 - ago / chart.window);
  }

  function yOf(chart, value) {
    const span = chart.hi - chart.lo || 1;
    return PAD + (H - 2 * PAD) * (1 - (value - chart.lo) / span);
  }

  // Runs of points no further apart than the series' gap (chronyd was away between).
  function segments(series, chart) {
    const runs = [];
    let run = [];
    let previous = null;
    series.points.forEach((p, i) => {
      if (p[0] > chart.window) return;
      if (previous !== null && series.gap !== null && previous - p[0] > series.gap) {
        runs.push(run);
        run = [];
      }
      run.push(i);
      previous = p[0];
    });
    if (run.length) runs.push(run);
    return runs;
  }

  function linePath(series, chart) {
    return segments(series, chart)
      .map((run) =>
        run
          .map((i, k) => {
            const [ago, value] = series.points[i];
            return (k ? "L" : "M") + xOf(chart, ago).toFixed(1) + "," + yOf(chart, value).toFixed(1);
          })
          .join(" ")
      )
      .join(" ");
  }

  function bandPath(series, chart) {
    return segments(series, chart)
      .map((run) => {
        const point = (i, k) => {
          const [ago, lo, hi] = series.band[i];
          return xOf(chart, ago).toFixed(1) + "," + yOf(chart, k ? lo : hi).toFixed(1);
        };
        const top = run.map((i) => point(i, 0));
        const bottom = run.slice().reverse().map((i) => point(i, 1));
        return "M" + top.join(" L") + " L" + bottom.join(" L") + " Z";
      })
      .join(" ");
  }

  function ensurePath(group, key, className) {
    let path = Array.from(group.children).find((p) => p.dataset.key === key);
    if (!path) {
      path = document.createElementNS(SVG, "path");
      path.dataset.key = key;
      group.appendChild(path);
    }
    path.setAttribute("class", className);
    return path;
  }

  function keepOnly(group, keys) {
    Array.from(group.children).forEach((p) => {
      if (!keys.has(p.dataset.key)) p.remove();
    });
  }

  function renderChart(figure, chart) {
    charts[figure.dataset.chart] = chart;
    figure.querySelectorAll("[data-c]").forEach((el) => setText(el, chart[el.dataset.c]));
    setHidden(figure.querySelector(".chart-empty"), chart.count > 1);
    const zero = figure.querySelector(".zero");
    const showZero = chart.lo < 0 && chart.hi > 0;
    zero.setAttribute("visibility", showZero ? "visible" : "hidden");
    if (showZero) {
      const y = yOf(chart, 0).toFixed(1);
      zero.setAttribute("y1", y);
      zero.setAttribute("y2", y);
    }
    const lines = figure.querySelector(".lines");
    const bands = figure.querySelector(".bands");
    const keys = new Set();
    const legend = [];
    chart.series.forEach((series, n) => {
      if (!series.points.length) return;
      keys.add(series.key);
      const colour = "c" + (n % 6);
      const classes = ["series", colour, series.classes].filter(Boolean).join(" ");
      if (series.band) ensurePath(bands, series.key, "band " + colour).setAttribute("d", bandPath(series, chart));
      ensurePath(lines, series.key, classes).setAttribute("d", linePath(series, chart));
      const item = document.createElement("li");
      item.className = classes;
      item.textContent = series.name;
      legend.push(item);
    });
    keepOnly(lines, keys);
    keepOnly(bands, keys);
    // Selected source drawn last: on top of the others.
    lines.querySelectorAll(".selected").forEach((p) => lines.appendChild(p));
    const list = figure.querySelector(".legend");
    if (chart.series.some((s) => s.classes !== "main")) list.replaceChildren(...legend);
    else list.replaceChildren();
  }

  // Nearest point of a series to `ago` (points are oldest first: ago decreasing).
  function nearest(points, ago) {
    let lo = 0;
    let hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] > ago) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(points[lo - 1][0] - ago) < Math.abs(points[lo][0] - ago)) lo -= 1;
    return lo;
  }

  function hover(figure, clientX) {
    const chart = charts[figure.dataset.chart];
    const plot = figure.querySelector(".chart-plot");
    const tip = figure.querySelector(".chart-tip");
    const cursor = figure.querySelector(".cursor");
    const box = plot.getBoundingClientRect();
    if (!chart || !box.width) return;
    const ago = chart.window * (1 - (clientX - box.left) / box.width);
    const rows = [];
    let at = null;
    chart.series.forEach((series) => {
      if (!series.points.length) return;
      const i = nearest(series.points, ago);
      const [pointAgo] = series.points[i];
      if (pointAgo > chart.window) return;
      if (at === null || Math.abs(pointAgo - ago) < Math.abs(at - ago)) at = pointAgo;
      rows.push(series.labels[i]);
    });
    if (at === null) return leave(figure);
    const x = xOf(chart, at);
    cursor.setAttribute("x1", x.toFixed(1));
    cursor.setAttribute("x2", x.toFixed(1));
    cursor.setAttribute("visibility", "visible");
    tip.replaceChildren(
      ...rows.map((text) => {
        const line = document.createElement("div");
        line.textContent = text;
        return line;
      })
    );
    tip.hidden = false;
    // Keep the tip inside the plot: left of the cursor in the right half.
    const px = (x / W) * box.width;
    const left = px > box.width / 2 ? px - tip.offsetWidth - 10 : px + 10;
    tip.style.left = Math.max(0, Math.min(left, box.width - tip.offsetWidth)) + "px";
  }

  function leave(figure) {
    figure.querySelector(".chart-tip").hidden = true;
    figure.querySelector(".cursor").setAttribute("visibility", "hidden");
  }

  document.querySelectorAll("figure.chart").forEach((figure) => {
    const plot = figure.querySelector(".chart-plot");
    plot.addEventListener("pointermove", (e) => hover(figure, e.clientX));
    plot.addEventListener("pointerdown", (e) => hover(figure, e.clientX));
    plot.addEventListener("pointerleave", () => leave(figure));
  });

  function renderCharts(all) {
    document.querySelectorAll("figure.chart").forEach((figure) => {
      const chart = all[figure.dataset.chart];
      if (chart) renderChart(figure, chart);
    });
  }

  // -- refresh ------------------------------------------------------------------

  function apply(v) {
    renderStatus(v);
    renderStale(v.stale || {});
    renderTracking(v.tracking, v.sync);
    renderRows("sources-body", "source-row", "sources-empty", v.sources);
    renderRows("sourcestats-body", "sourcestats-row", "sourcestats-empty", v.sourcestats);
    renderRtc(v.rtc);
    renderErrors(v.errors);
    renderCharts(v.charts);
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    const controller = new AbortController();
    const abort = setTimeout(() => controller.abort(), Math.max(10000, refreshMs * 5));
    try {
      const response = await fetch(snapshotUrl, { cache: "no-store", signal: controller.signal });
      if (!response.ok) throw new Error("HTTP " + response.status);
      apply((await response.json()).view);
      lastGood = new Date();
      body.dataset.updates = String((parseInt(body.dataset.updates, 10) || 0) + 1);
    } catch (err) {
      serverDown("(" + err.message + ")");
    } finally {
      clearTimeout(abort);
      inFlight = false;
      timer = setTimeout(refresh, refreshMs);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !inFlight) {
      clearTimeout(timer);
      refresh();
    }
  });
  // The page came with its view: draw the charts at once, then keep refreshing.
  const initial = $("initial-view");
  if (initial) renderCharts(JSON.parse(initial.textContent).charts);
  timer = setTimeout(refresh, refreshMs);
})();
