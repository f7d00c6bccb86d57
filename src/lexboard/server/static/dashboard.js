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
// plotly.js (1.4 MB) loads async: data is fetched and tables drawn meanwhile
const plotlyReady = new Promise((resolve) => {
  const tag = document.getElementById("plotly-js");
  if (window.Plotly || !tag) resolve();
  else tag.addEventListener("load", resolve);
});

function filterValue(name) {
  // before the dropdowns are filled, the value wanted from the URL
  return form[name].value || form[name].dataset.wanted || "";
}

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
  for (const name of FILTERS) if (filterValue(name)) q.set(name, filterValue(name));
  if (form.refresh.value !== "0") q.set("refresh", form.refresh.value);
  history.replaceState(null, "", "?" + q.toString());
}

function windowQuery(tick) {
  const q = new URLSearchParams();
  if (form.range.value === "custom") {
    if (form.from.value) q.set("from", form.from.value);
    if (form.to.value) q.set("to", form.to.value);
  } else {
    // presets end at now, in whole seconds, or for a refresh at its tick (a multiple of
    // its period): viewers of one view send the same window and share one computation
    const now = tick || Math.floor(Date.now() / 1000) * 1000;
    q.set("to", new Date(now).toISOString());
    q.set("from", new Date(now - RANGES[form.range.value] * 1000).toISOString());
  }
  q.set("tz", form.tz.value || "UTC");
  for (const name of FILTERS) if (filterValue(name)) q.set(name, filterValue(name));
  return q;
}

// as widgets.tile_text shows a tile in the report
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

// as widgets.cell_text shows a cell in the report
function cellText(cell, kind) {
  if (cell === null || cell === undefined) return "—";
  if (kind === "boolean") return cell ? "yes" : "no";
  if (kind === "timestamp") return String(cell).slice(0, 19).replace("T", " ");
  if (kind === "seconds") return formatValue(cell, "seconds");
  if (kind === "float") return Number(cell).toFixed(3);
  if (kind === "integer") return Number(cell).toLocaleString("en-US");
  return String(cell);
}

function renderTable(target, table) {
  const wrap = el("div", { class: "table-scroll" });
  const t = el("table");
  const head = el("tr");
  table.labels.forEach((label, i) => head.append(el("th", { class: table.kinds[i] }, label)));
  t.append(head);
  for (const row of table.rows) {
    const tr = el("tr");
    row.forEach((cell, i) => {
      const column = table.columns[i];
      const kind = table.kinds[i];
      // the full id or timestamp on hover: the cell shows it clipped or to the second
      const full = (kind === "id" || kind === "timestamp") && cell !== null ? { title: String(cell) } : {};
      const td = el("td", { class: kind, ...full });
      if (table.links[column] === "session" && cell !== null) {
        td.append(el("a", { href: sessionHref(row, table.columns), "data-session": String(cell) }, cell));
      } else {
        td.textContent = cellText(cell, kind);
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
      if (window.Plotly) Plotly.purge(target);
      target.replaceChildren();
      status.textContent = "No data in this time range for these filters.";
      section.dataset.state = "empty";
      return;
    }
    if (payload.tiles) renderTiles(target, payload.tiles);
    else if (payload.table) renderTable(target, payload.table);
    else if (payload.figure) {
      await plotlyReady;
      if (run !== generation) return;
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

function refreshAll(tick) {
  generation += 1;
  const run = generation;
  form.classList.toggle("custom-range", form.range.value === "custom");
  writeUrl();
  const query = windowQuery(tick);
  for (const section of document.querySelectorAll("[data-widget]")) {
    if (section.dataset.kind === "curation") loadCuration(section, query, run);
    else loadWidget(section, query, run);
  }
  loadStatus();
}

function schedule(after) {
  clearTimeout(refreshTimer);
  const period = Number(form.refresh.value) * 1000;
  if (period > 0) {
    // on the wall clock's multiples of the period, so every viewer refreshes the same window
    const tick = (Math.floor(Math.max(Date.now(), after || 0) / period) + 1) * period;
    refreshTimer = setTimeout(() => { refreshAll(tick); schedule(tick); }, tick - Date.now());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  readUrl();
  loadDimensions().catch(() => { /* filters stay at "all" */ });
  form.addEventListener("change", (event) => {
    if (FILTERS.includes(event.target.name)) event.target.dataset.wanted = event.target.value;
    schedule();
    refreshAll();
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  const curation = document.getElementById("w-curation");
  if (curation) wireCuration(curation);
  setInterval(showFreshness, 1000);
  schedule();
  refreshAll();
});

// --- curation (present only with write_widgets on) ----------------------------------------

const csrfMeta = document.querySelector('meta[name="csrf-token"]');

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfMeta ? csrfMeta.content : "" },
    body: JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.error || ("HTTP " + response.status));
  return payload;
}

function intentSelect(intents, suggested) {
  const select = el("select", { "data-role": "intent" });
  select.append(el("option", { value: "" }, "choose an intent…"));
  for (const name of intents) {
    const option = el("option", { value: name }, name);
    if (name === suggested) option.selected = true;
    select.append(option);
  }
  return select;
}

async function loadCuration(section, query, run) {
  const target = section.querySelector(".body");
  const status = section.querySelector(".status");
  const addButton = section.querySelector("[data-action=add]");
  const buildButton = section.querySelector("[data-action=build]");
  section.dataset.state = "loading";
  try {
    const q = new URLSearchParams(query);
    q.set("limit", "15");
    const response = await fetch("/api/curation/missed?" + q.toString());
    const payload = await response.json();
    if (run !== generation) return;
    if (!response.ok) throw new Error(payload.error || ("HTTP " + response.status));
    section.querySelector(".backend").textContent =
      "Bot " + payload.backend.bot + " · " + payload.backend.locale_id + " · " +
      (payload.backend.kind === "api" ? "Lex V2 Models API (DRAFT)" : "local export");
    buildButton.hidden = payload.backend.kind !== "api";
    const columns = payload.columns;
    const table = el("table");
    const head = el("tr");
    for (const label of ["", "utterance", "count", "sessions", "intent", "result"]) head.append(el("th", {}, label));
    table.append(head);
    for (const row of payload.rows) {
      const utterance = row[columns.indexOf("utterance")];
      const note = row[columns.indexOf("note")];
      const tr = el("tr", { "data-utterance": utterance });
      const box = el("input", { type: "checkbox", "aria-label": "select" });
      if (note) box.disabled = true;
      const pick = el("td");
      pick.append(box);
      const chooser = el("td");
      chooser.append(intentSelect(payload.intents, payload.suggested[utterance]));
      tr.append(pick, el("td", {}, utterance), el("td", { class: "num" }, row[columns.indexOf("count")]),
        el("td", { class: "num" }, row[columns.indexOf("sessions")]), chooser,
        el("td", { class: "outcome" }, note || ""));
      table.append(tr);
    }
    target.replaceChildren(table);
    addButton.disabled = !payload.writable || payload.rows.length === 0;
    await loadAudit(section);
    if (payload.rows.length === 0) {
      status.textContent = "No missed utterances that are not already in the bot.";
      section.dataset.state = "empty";
    } else {
      section.dataset.state = "ready";
    }
  } catch (error) {
    if (run !== generation) return;
    status.textContent = "Could not load: " + error.message;
    section.dataset.state = "error";
  }
}

async function loadAudit(section) {
  const box = section.querySelector(".audit");
  const listing = await (await fetch("/api/curation/audit?limit=10")).json();
  const table = el("table");
  const head = el("tr");
  for (const label of ["#", "when (UTC)", "who", "intent", "utterance", "action", "result", ""]) head.append(el("th", {}, label));
  table.append(head);
  for (const entry of listing.rows || []) {
    const tr = el("tr", { "data-audit": String(entry.id) });
    const undoCell = el("td");
    if (entry.undoable && csrfMeta) {
      const button = el("button", { type: "button", "data-undo": String(entry.id) }, "Undo");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try { await postJson("/api/curation/undo", { id: entry.id }); } catch (error) { section.querySelector(".result").textContent = error.message; }
        refreshAll();
      });
      undoCell.append(button);
    }
    tr.append(el("td", {}, entry.id), el("td", {}, String(entry.at).slice(0, 19).replace("T", " ")), el("td", {}, entry.who),
      el("td", {}, entry.intent || ""), el("td", {}, entry.utterance || ""), el("td", {}, entry.action),
      el("td", {}, entry.result + (entry.detail ? ": " + entry.detail : "")), undoCell);
    table.append(tr);
  }
  box.replaceChildren(table);
}

function wireCuration(section) {
  const result = section.querySelector(".result");
  section.querySelector("[data-action=add]").addEventListener("click", async (event) => {
    const rows = [...section.querySelectorAll("tr[data-utterance]")].filter((tr) => tr.querySelector("input:checked"));
    const items = [];
    for (const tr of rows) {
      const intent = tr.querySelector("select").value;
      const outcome = tr.querySelector(".outcome");
      if (!intent) { outcome.textContent = "choose an intent"; outcome.className = "outcome refused"; continue; }
      items.push({ intent, utterance: tr.dataset.utterance });
    }
    if (items.length === 0) { result.textContent = "Select utterances and their intents first."; return; }
    event.target.disabled = true;
    try {
      const reply = await postJson("/api/curation/add", { items });
      for (const change of reply.results) {
        const tr = [...section.querySelectorAll("tr[data-utterance]")].find((r) => r.dataset.utterance === change.utterance);
        if (!tr) continue;
        const outcome = tr.querySelector(".outcome");
        outcome.textContent = change.result + (change.detail ? ": " + change.detail : "");
        outcome.className = "outcome " + change.result;
      }
      const added = reply.results.filter((c) => c.ok).length;
      result.textContent = added + " added, " + (reply.results.length - added) + " not added.";
      await loadAudit(section);
    } catch (error) {
      result.textContent = "Add failed: " + error.message;
    } finally {
      event.target.disabled = false;
    }
  });
  section.querySelector("[data-action=build]").addEventListener("click", async (event) => {
    event.target.disabled = true;
    result.textContent = "Building… (this can take a few minutes)";
    try {
      const built = await postJson("/api/curation/build", {});
      result.textContent = "Build " + built.status + (built.failure_reasons && built.failure_reasons.length ? ": " + built.failure_reasons.join("; ") : "");
    } catch (error) {
      result.textContent = "Build failed: " + error.message;
    } finally {
      event.target.disabled = false;
    }
  });
}
