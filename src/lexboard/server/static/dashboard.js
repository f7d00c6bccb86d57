// lexboard dashboard: fetches widgets built by the server, renders them, wires the controls.
// Every text from the store is written with textContent (never innerHTML).
"use strict";

const RANGES = { "1h": 3600, "3h": 10800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800, "30d": 2592000 };
const FILTERS = ["bot_id", "locale_id", "alias_id", "input_mode"];
const form = document.getElementById("controls");
const body = document.body;
let refreshTimer = null;
let lastEvent = null;
let generation = 0;

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  form.range.value = RANGES[q.get("range")] || q.get("range") === "custom" ? q.get("range") : "1d";
  form.tz.value = q.get("tz") || body.dataset.defaultTz || "UTC";
  form.from.value = q.get("from") || "";
  form.to.value = q.get("to") || "";
  form.refresh.value = ["0", "10", "60", "300"].includes(q.get("refresh")) ? q.get("refresh") : "0";
  const defaults = { bot_id: body.dataset.defaultBot, locale_id: body.dataset.defaultLocale };
  for (const name of FILTERS) form[name].dataset.wanted = q.has(name) ? q.get(name) : (defaults[name] || "");
}

function writeUrl() {
  const q = new URLSearchParams();
  q.set("range", form.range.value);
  if (form.range.value === "custom") { q.set("from", form.from.value); q.set("to", form.to.value); }
  q.set("tz", form.tz.value);
  for (const name of FILTERS) if (form[name].value) q.set(name, form[name].value);
  if (form.refresh.value !== "0") q.set("refresh", form.refresh.value);
  history.replaceState(null, "", "?" + q.toString());
}

function windowQuery() {
  const q = new URLSearchParams();
  if (form.range.value === "custom") {
    if (form.from.value) q.set("from", form.from.value);
    if (form.to.value) q.set("to", form.to.value);
  } else {
    const now = Date.now();
    q.set("to", new Date(now).toISOString());
    q.set("from", new Date(now - RANGES[form.range.value] * 1000).toISOString());
  }
  q.set("tz", form.tz.value || "UTC");
  for (const name of FILTERS) if (form[name].value) q.set(name, form[name].value);
  return q;
}

function formatValue(value, format) {
  if (value === null || value === undefined) return "—";
  if (format === "percent") return (value * 100).toFixed(1) + " %";
  if (format === "seconds") return value < 120 ? value.toFixed(1) + " s" : (value / 60).toFixed(1) + " min";
  if (format === "float") return Number(value).toFixed(2);
  return Number(value).toLocaleString();
}

function renderTiles(target, tiles) {
  const box = el("div", { class: "tiles" });
  for (const tile of tiles) {
    const t = el("div", { class: "tile" });
    t.append(el("div", { class: "label" }, tile.label), el("div", { class: "value" }, formatValue(tile.value, tile.format)));
    box.append(t);
  }
  target.replaceChildren(box);
}

function sessionHref(row, columns) {
  const q = new URLSearchParams({ tz: form.tz.value || "UTC" });
  const orig = columns.indexOf("originating_request_id");
  if (orig >= 0) q.set("originating_request_id", row[orig] ?? "");
  for (const name of ["bot_id", "locale_id"]) if (form[name].value) q.set(name, form[name].value);
  return "/sessions/" + encodeURIComponent(row[columns.indexOf("session_id")]) + "?" + q.toString();
}

function renderTable(target, table) {
  const wrap = el("div", { class: "table-scroll" });
  const t = el("table");
  const head = el("tr");
  for (const c of table.columns) head.append(el("th", {}, c));
  t.append(head);
  for (const row of table.rows) {
    const tr = el("tr");
    row.forEach((cell, i) => {
      const column = table.columns[i];
      const td = el("td", typeof cell === "number" ? { class: "num" } : {});
      if (table.links[column] === "session" && cell !== null) {
        td.append(el("a", { href: sessionHref(row, table.columns), "data-session": String(cell) }, cell));
      } else if (typeof cell === "boolean") {
        td.textContent = cell ? "yes" : "no";
      } else if (typeof cell === "number" && !Number.isInteger(cell)) {
        td.textContent = cell.toFixed(3);
      } else {
        td.textContent = cell === null ? "—" : String(cell);
      }
      tr.append(td);
    });
    t.append(tr);
  }
  wrap.append(t);
  target.replaceChildren(wrap);
}

async function loadWidget(section, query, run) {
  const id = section.dataset.widget;
  const target = section.querySelector(".body");
  const status = section.querySelector(".status");
  section.dataset.state = "loading";
  try {
    const response = await fetch("/api/widgets/" + id + "?" + query.toString(), { headers: { Accept: "application/json" } });
    const payload = await response.json();
    if (run !== generation) return;
    if (!response.ok) throw new Error(payload.error || ("HTTP " + response.status));
    const metricQuery = new URLSearchParams(query);
    for (const [k, v] of Object.entries(payload.metric.params)) if (!["from", "to", "tz", ...FILTERS].includes(k) && v !== null) metricQuery.set(k, v);
    for (const link of section.querySelectorAll("[data-download]")) {
      const q = new URLSearchParams(metricQuery);
      q.set("format", link.dataset.download);
      link.href = "/api/metrics/" + section.dataset.metric + "?" + q.toString();
    }
    if (payload.empty) {
      target.replaceChildren();
      if (window.Plotly) Plotly.purge(target);
      status.textContent = "No data in this time range for these filters.";
      section.dataset.state = "empty";
      return;
    }
    if (payload.tiles) renderTiles(target, payload.tiles);
    else if (payload.table) renderTable(target, payload.table);
    else if (payload.figure) {
      await Plotly.react(target, payload.figure.data, payload.figure.layout, { displayModeBar: false, responsive: true });
    }
    section.dataset.state = "ready";
  } catch (error) {
    if (run !== generation) return;
    status.textContent = "Could not load: " + error.message;
    section.dataset.state = "error";
  }
}

async function loadStatus() {
  try {
    const status = await (await fetch("/api/status")).json();
    lastEvent = status.last_event ? new Date(status.last_event) : null;
  } catch (error) {
    lastEvent = undefined;
  }
  showFreshness();
}

function showFreshness() {
  const line = document.getElementById("freshness");
  if (lastEvent === undefined) { line.textContent = "status unavailable"; line.dataset.state = "error"; return; }
  if (lastEvent === null) { line.textContent = "no events yet"; line.dataset.state = "empty"; return; }
  const age = Math.max(0, Math.round((Date.now() - lastEvent.getTime()) / 1000));
  const text = age < 120 ? age + " s" : age < 7200 ? Math.round(age / 60) + " min" : age < 172800 ? Math.round(age / 3600) + " h" : Math.round(age / 86400) + " days";
  line.textContent = "last event " + text + " ago";
  line.dataset.state = age > 600 ? "stale" : "ready";
}

async function loadDimensions() {
  const dims = await (await fetch("/api/dimensions")).json();
  const options = {
    bot_id: dims.bots.map((b) => [b.id, b.name ? b.name + " (" + b.id + ")" : b.id]),
    locale_id: dims.locales.map((l) => [l, l]),
    alias_id: dims.aliases.map((a) => [a.id, a.name ? a.name + " (" + a.id + ")" : a.id]),
    input_mode: dims.input_modes.map((m) => [m, m]),
  };
  for (const name of FILTERS) {
    const select = form[name];
    const wanted = select.dataset.wanted || "";
    select.replaceChildren(el("option", { value: "" }, "all"));
    for (const [value, label] of options[name]) select.append(el("option", { value }, label));
    if (wanted && ![...select.options].some((o) => o.value === wanted)) select.append(el("option", { value: wanted }, wanted));
    select.value = wanted;
  }
}

function refreshAll() {
  generation += 1;
  const run = generation;
  form.classList.toggle("custom-range", form.range.value === "custom");
  writeUrl();
  const query = windowQuery();
  for (const section of document.querySelectorAll("[data-widget]")) loadWidget(section, query, run);
  loadStatus();
}

function schedule() {
  clearInterval(refreshTimer);
  const seconds = Number(form.refresh.value);
  if (seconds > 0) refreshTimer = setInterval(refreshAll, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", async () => {
  readUrl();
  try { await loadDimensions(); } catch (error) { /* filters stay at "all" */ }
  form.addEventListener("change", (event) => {
    if (FILTERS.includes(event.target.name)) event.target.dataset.wanted = event.target.value;
    schedule();
    refreshAll();
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  setInterval(showFreshness, 1000);
  schedule();
  refreshAll();
});
