// pychrony dashboard: polls /api/snapshot and updates the page in place.
// Every value arrives formatted by the server (view.py); this script only places
// text with textContent (never innerHTML) and draws the offset chart.
"use strict";

(function () {
  const body = document.body;
  const refreshMs = Math.max(500, parseInt(body.dataset.refresh, 10) || 2000);
  const snapshotUrl = body.dataset.snapshot || "api/snapshot";
  const $ = (id) => document.getElementById(id);
  const STATE_CLASSES = ["ok", "warn", "bad"];
  let timer = null;
  let inFlight = false;

  function setText(el, value) {
    const text = value === null || value === undefined ? "" : String(value);
    if (el.textContent !== text) el.textContent = text;
  }

  function setHidden(el, hidden) {
    if (el && el.hidden !== hidden) el.hidden = hidden;
  }

  function showBanner(message) {
    setText($("error-text"), message || "");
    if (message) renderTracking({ sync_label: "Unknown", sync_class: "bad", sync_detail: "" });
    setHidden($("error-banner"), !message);
    const live = $("live");
    live.classList.toggle("ok", !message);
    live.classList.toggle("bad", !!message);
    document.querySelectorAll("main .panel").forEach((p) => p.classList.toggle("stale", !!message));
  }

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
    if (rows === null || rows === undefined) return; // report failed: keep the last rows
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

  // Tracking stat boxes; when chronyd is unreachable only the sync box changes
  // (to "Unknown") and the others keep their last values.
  function renderTracking(t) {
    document.querySelectorAll("[data-t]").forEach((el) => {
      if (el.dataset.t in t) setText(el, t[el.dataset.t]);
    });
    document.querySelectorAll("[data-tclass]").forEach((el) => {
      if (!(el.dataset.tclass in t)) return;
      el.classList.remove(...STATE_CLASSES);
      if (t[el.dataset.tclass]) el.classList.add(t[el.dataset.tclass]);
    });
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

  function renderChart(chart) {
    if (!chart) return;
    const width = 600;
    const mid = 70;
    const half = 64;
    setText($("chart-span"), chart.window_label);
    // Points are [seconds ago, offset], oldest first; a new segment ("M") starts
    // after a gap (chronyd was unreachable).
    let path = "";
    let previous = null;
    for (const [ago, offset] of chart.points) {
      if (ago > chart.window) continue;
      const x = width * (1 - ago / chart.window);
      const y = mid - (offset / chart.scale) * half;
      const move = previous === null || previous - ago > chart.gap;
      path += (move ? "M" : "L") + x.toFixed(1) + "," + y.toFixed(1) + " ";
      previous = ago;
    }
    $("chart-line").setAttribute("d", path.trim());
    setText($("chart-top"), chart.top_label);
    setText($("chart-bottom"), chart.bottom_label);
    setText($("chart-latest"), chart.latest);
    setHidden($("chart-empty"), chart.count > 1);
  }

  function apply(snapshot) {
    const v = snapshot.view;
    showBanner(v.ok ? "" : v.error || "chronyd did not answer");
    renderTracking(v.tracking || v.sync);
    renderRows("sources-body", "source-row", "sources-empty", v.sources);
    renderRows("sourcestats-body", "sourcestats-row", "sourcestats-empty", v.sourcestats);
    renderRtc(v.rtc);
    renderErrors(v.errors);
    renderChart(v.chart);
    setText($("updated"), v.updated);
    body.dataset.updates = String((parseInt(body.dataset.updates, 10) || 0) + 1);
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    const controller = new AbortController();
    const abort = setTimeout(() => controller.abort(), Math.max(10000, refreshMs * 5));
    try {
      const response = await fetch(snapshotUrl, { cache: "no-store", signal: controller.signal });
      if (!response.ok) throw new Error("the dashboard answered HTTP " + response.status);
      apply(await response.json());
    } catch (err) {
      showBanner("The dashboard server is not answering (" + err.message + ").");
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
  refresh();
})();
