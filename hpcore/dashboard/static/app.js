// hpcore dashboard: the study list, a study page that updates live, the compare view.
//
// Every string that comes from a study (names, parameters, values, errors, logs)
// reaches the page through textContent or as chart data, never as HTML: el()
// below is the only way this file builds elements, and it has no innerHTML.
"use strict";

const H = {
  // el("td", {class: "x", title: "..."}, child, "text", ...): an element; strings become text nodes.
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  },
  clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; },
  async post(url) {
    const r = await fetch(url, {method: "POST", credentials: "same-origin", headers: {"X-Hpcore-Control": "stop"}});
    let body = {};
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  },
  async json(url) {
    const r = await fetch(url, {credentials: "same-origin", cache: "no-store"});
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  },
  num(v, digits = 4) {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;  // 'nan', 'inf'
    if (typeof v !== "number") return JSON.stringify(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return (a !== 0 && (a < 1e-3 || a >= 1e5)) ? v.toExponential(digits - 1) : String(+v.toPrecision(digits));
  },
  value(v) { return typeof v === "object" && v !== null ? JSON.stringify(v) : H.num(v); },
  ago(t) {
    if (!t) return "";
    const s = Date.now() / 1000 - t;
    if (s < 60) return `${Math.max(0, Math.round(s))} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return new Date(t * 1000).toLocaleString();
  },
  dur(s) {
    if (s === null || s === undefined || !isFinite(s)) return "";
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  },
};

const STATES = ["running", "completed", "stopped", "failed", "timed_out", "interrupted"];
const main = () => document.getElementById("main");
let current = null;  // the page shown: {stop()}

function setCrumbs(...parts) {
  const nav = H.clear(document.getElementById("crumbs"));
  for (const p of parts) nav.appendChild(H.el("span", {class: "crumb"}, p));
}

function setLive(text, ok) {
  const live = document.getElementById("live");
  live.textContent = text;
  live.className = "live " + (ok ? "ok" : "idle");
}

// -- the study list ----------------------------------------------------------------
function studyListPage() {
  setCrumbs("studies");
  const selected = new Set();
  const compare = H.el("button", {class: "btn", disabled: true, onclick: () => {
    location.hash = "#/compare/" + [...selected].join(",");
  }}, "Compare selected");
  const body = H.el("tbody");
  const table = H.el("table", {class: "grid studies"},
    H.el("thead", {}, H.el("tr", {},
      ["", "study", "name", "strategy", "objective", "trials", "running", "completed",
       "stopped", "failed", "best", "driver", "last activity"].map(h => H.el("th", {}, h)))),
    body);
  H.clear(main()).append(H.el("div", {class: "bar"}, H.el("h1", {}, "Studies"), compare), table);
  let timer = null, stopped = false;

  async function load() {
    let data;
    try { data = await H.json("/api/studies"); setLive("live", true); }
    catch (e) { setLive("server unreachable", false); return; }
    if (stopped) return;
    H.clear(body);
    if (!data.studies.length) {
      body.appendChild(H.el("tr", {}, H.el("td", {colspan: 13, class: "muted"},
        "No study under the dashboard's roots yet: run a search with experiment_root there.")));
    }
    for (const s of data.studies) body.appendChild(studyRow(s, selected, compare));
  }
  load();
  timer = setInterval(load, 2000);
  return {stop() { stopped = true; clearInterval(timer); }};
}

function studyRow(s, selected, compare) {
  const box = H.el("input", {type: "checkbox", "aria-label": "select for compare",
    onchange: e => { e.target.checked ? selected.add(s.id) : selected.delete(s.id);
                     compare.disabled = selected.size < 1; }});
  box.checked = selected.has(s.id);
  const link = H.el("a", {href: `#/study/${s.id}`}, s.label);
  if (s.error) return H.el("tr", {}, H.el("td", {}, ""), H.el("td", {}, link),
                           H.el("td", {colspan: 11, class: "error"}, s.error));
  const st = s.study || {metrics: [], modes: []};
  const c = s.counts || {};
  let best = "";
  if (s.best && "value" in s.best) best = `${H.num(s.best.value)} (#${s.best.trial})`;
  else if (s.best && "front" in s.best) best = `front of ${s.best.front}`;
  const objective = st.metrics.map((m, i) => `${m} ${st.modes[i] === "max" ? "\u2191" : "\u2193"}`).join(", ");
  return H.el("tr", {},
    H.el("td", {}, box), H.el("td", {class: "path"}, link), H.el("td", {}, st.name || ""),
    H.el("td", {}, st.strategy || ""), H.el("td", {}, objective),
    H.el("td", {class: "n"}, s.n_trials), H.el("td", {class: "n"}, c.running || 0),
    H.el("td", {class: "n"}, c.completed || 0), H.el("td", {class: "n"}, c.stopped || 0),
    H.el("td", {class: "n"}, (c.failed || 0) + (c.timed_out || 0)), H.el("td", {class: "n"}, best),
    H.el("td", {}, H.el("span", {class: s.driver_alive ? "dot ok" : "dot idle"}),
         s.driver_alive ? " running" : " idle"),
    H.el("td", {}, H.ago(s.last_activity)));
}

// -- a study -----------------------------------------------------------------------
class Study {
  // The page's copy of a study: rows by id and curves, kept up to date from /since.
  constructor(snapshot) {
    this.id = snapshot.id;
    this.label = snapshot.label;
    this.info = snapshot.study || {metrics: ["value"], modes: ["min"], constraints: [], name: "", strategy: ""};
    this.fields = snapshot.fields;
    this.version = snapshot.version;
    this.driverAlive = snapshot.driver_alive;
    this.rows = new Map();
    for (const r of snapshot.trials) this.rows.set(r[0], this.toTrial(r));
    this.curves = new Map();
    this.partial = new Set();  // curves known only from the points that came after the page
  }
  toTrial(r) {
    const t = {};
    this.fields.forEach((f, i) => { t[f] = r[i]; });
    return t;
  }
  apply(delta) {
    for (const r of delta.trials || []) this.rows.set(r[0], this.toTrial(r));
    for (const [id, c] of Object.entries(delta.curves || {})) {
      if (this.curves.has(+id) || c.length) { this.curves.set(+id, c); this.partial.delete(+id); }
    }
    for (const [id, pts] of Object.entries(delta.points || {})) {
      const c = this.curves.get(+id);
      if (c) c.push(...pts);
      else { this.curves.set(+id, pts.slice()); this.partial.add(+id); }  // its start: fetched
    }
    this.version = delta.version;
    if ("driver_alive" in delta) this.driverAlive = delta.driver_alive;
  }
  // A curve read whole from the server, joined with the points that came since.
  fetched(id, c) {
    const known = this.curves.get(id);
    if (known && !this.partial.has(id)) return;
    const last = c.length ? c[c.length - 1][0] : -Infinity;
    this.curves.set(id, c.concat((known || []).filter(p => p[0] > last)));
    this.partial.delete(id);
  }
  get multi() { return this.info.metrics.length > 1; }
  sign(k = 0) { return this.info.modes[k] === "max" ? -1 : 1; }
  scored(t) {
    return (t.state === "completed" || t.state === "stopped") && t.values &&
      t.values.every(v => typeof v === "number") && t.feasible !== false;
  }
  paramKeys() {
    const space = this.info.space || {};
    const keys = Object.keys(space);
    if (keys.length) return keys;
    const seen = new Set();
    for (const t of this.rows.values()) for (const k of Object.keys(t.params || {})) seen.add(k);
    return [...seen];
  }
  best() {
    if (this.multi) return null;
    let best = null;
    for (const t of this.rows.values()) {
      if (!this.scored(t)) continue;
      if (!best || this.sign() * t.values[0] < this.sign() * best.values[0]) best = t;
    }
    return best;
  }
  front() {
    const pts = [...this.rows.values()].filter(t => this.scored(t));
    const s = this.info.modes.map((m, k) => this.sign(k));
    return pts.filter(a => !pts.some(b => b !== a &&
      b.values.every((v, k) => s[k] * v <= s[k] * a.values[k]) &&
      b.values.some((v, k) => s[k] * v < s[k] * a.values[k])));
  }
}

function studyPage(sid) {
  setCrumbs(H.el("a", {href: "#/"}, "studies"), "\u2026");
  let study = null, stopped = false, poll = null;
  const ui = {};

  async function start() {
    let snap;
    try { snap = await H.json(`/api/studies/${encodeURIComponent(sid)}`); }
    catch (e) { H.clear(main()).append(H.el("p", {class: "error"}, `Cannot load the study: ${e.message}`)); return; }
    if (stopped) return;
    study = new Study(snap);
    try { ui.control = (await H.json("/api/config")).control; } catch (e) { ui.control = false; }
    build();
    renderAll(true);
    poll = setInterval(update, 1000);
  }

  async function update() {
    let delta;
    try { delta = await H.json(`/api/studies/${encodeURIComponent(sid)}/since/${study.version}`); }
    catch (e) { setLive("server unreachable", false); return; }
    if (stopped) return;
    if (delta.reset) { clearInterval(poll); start(); return; }
    study.apply(delta);
    setLive(study.driverAlive ? "live" : "driver idle", study.driverAlive);
    if ((delta.trials || []).length) renderAll(false);
    else {
      renderRunning();  // elapsed times and latest values move on
      if (Object.keys(delta.points || {}).length) ui.chartSet.renderLive();
    }
  }

  function build() {
    const info = study.info;
    setCrumbs(H.el("a", {href: "#/"}, "studies"), study.label);
    ui.head = H.el("section", {class: "head"});
    ui.running = H.el("section", {class: "panel"});
    ui.charts = H.el("section", {class: "charts"});
    ui.table = new TrialTable(study, t => showTrial(study, t));
    H.clear(main()).append(ui.head, ui.running, ui.charts, ui.table.node);
    ui.chartSet = new Charts(ui.charts, study);
    document.title = `${info.name || study.label} \u2013 hpcore`;
  }

  function renderHead() {
    const info = study.info, counts = {};
    for (const t of study.rows.values()) counts[t.state] = (counts[t.state] || 0) + 1;
    const best = study.best();
    const objective = info.metrics.map((m, i) => `${m} (${info.modes[i]})`).join(", ");
    H.clear(ui.head).append(
      H.el("h1", {}, info.name || study.label),
      H.el("div", {class: "facts"},
        fact("strategy", info.strategy), fact("objective", objective),
        info.constraints.length ? fact("constraints", info.constraints.join(", ")) : null,
        fact("trials", String(study.rows.size)),
        ...STATES.filter(s => counts[s]).map(s => fact(s, String(counts[s]))),
        best ? fact("best", `${H.num(best.values[0])} (trial ${best.id})`) : null,
        study.multi ? fact("Pareto front", `${study.front().length} trials`) : null,
        fact("driver", study.driverAlive ? "running" : "not running")));
  }

  function renderRunning() {
    const running = [...study.rows.values()].filter(t => t.state === "running");
    H.clear(ui.running);
    if (!running.length) return;
    const now = Date.now() / 1000;
    const heads = ["trial", "elapsed", "devices", "host", "step", "latest value"];
    if (ui.control) heads.push("");
    ui.running.append(H.el("h2", {}, `Running (${running.length})`), H.el("table", {class: "grid"},
      H.el("thead", {}, H.el("tr", {}, heads.map(h => H.el("th", {}, h)))),
      H.el("tbody", {}, running.map(t => {
        const c = study.curves.get(t.id) || [];
        const last = c[c.length - 1];
        return H.el("tr", {class: "click", onclick: () => showTrial(study, t)},
          H.el("td", {class: "n"}, t.id), H.el("td", {}, H.dur(now - t.start)),
          H.el("td", {}, (t.devices || []).join(", ") || "cpu"), H.el("td", {}, t.host || "local"),
          H.el("td", {class: "n"}, last ? last[0] : ""), H.el("td", {class: "n"}, last ? H.num(last[1]) : ""),
          ui.control ? H.el("td", {}, stopButton(t)) : null);
      }))));
  }

  // Asks the driver to stop the trial at its next report; the row turns "stopped" when it did.
  function stopButton(t) {
    if (ui.stopping && ui.stopping.has(t.id)) return H.el("span", {class: "muted"}, "stop requested");
    return H.el("button", {class: "stop", onclick: async e => {
      e.stopPropagation();
      if (!confirm(`Stop trial ${t.id}? It ends at its next report and is recorded as stopped.`)) return;
      try {
        await H.post(`/api/studies/${encodeURIComponent(sid)}/trials/${t.id}/stop`);
        (ui.stopping = ui.stopping || new Set()).add(t.id);
        renderRunning();
      } catch (err) { alert(`Trial ${t.id} was not stopped: ${err.message}`); }
    }}, "Stop");
  }

  function renderAll(first) {
    renderHead();
    renderRunning();
    ui.table.render();
    ui.chartSet.render(first);
  }

  start();
  return {stop() { stopped = true; clearInterval(poll); if (ui.chartSet) ui.chartSet.stop(); }};
}

function fact(label, value) {
  return H.el("div", {class: "fact"}, H.el("span", {class: "label"}, label), H.el("span", {class: "value"}, value));
}

// -- the trials table --------------------------------------------------------------
class TrialTable {
  constructor(study, onPick) {
    this.study = study;
    this.onPick = onPick;
    this.sort = {key: "id", dir: -1};
    this.states = new Set(STATES);
    this.ranges = {};  // param -> [min, max]
    this.page = 0;
    this.size = 50;
    this.node = H.el("section", {class: "panel"});
  }
  columns() {
    const s = this.study;
    const cols = [{key: "id", label: "trial", get: t => t.id}, {key: "state", label: "state", get: t => t.state}];
    s.info.metrics.forEach((m, k) => cols.push({key: "v" + k, label: m, get: t => t.values ? t.values[k] : null, num: true}));
    for (const p of s.paramKeys()) cols.push({key: "p:" + p, label: p, param: p, get: t => (t.params || {})[p], num: true});
    const extra = new Set();
    for (const t of s.rows.values()) for (const k of Object.keys(t.metrics || {})) extra.add(k);
    for (const m of s.info.metrics) extra.delete(m);
    for (const k of [...extra].slice(0, 8)) cols.push({key: "m:" + k, label: k, get: t => (t.metrics || {})[k], num: true});
    cols.push({key: "duration", label: "duration", get: t => t.end && t.start ? t.end - t.start : null, fmt: H.dur, num: true});
    cols.push({key: "devices", label: "devices", get: t => (t.devices || []).join(", ")});
    cols.push({key: "attempts", label: "attempts", get: t => t.attempts, num: true});
    cols.push({key: "error", label: "error / stop reason", get: t => t.error || ""});
    return cols;
  }
  filtered(cols) {
    const out = [];
    for (const t of this.study.rows.values()) {
      if (!this.states.has(t.state)) continue;
      let ok = true;
      for (const [p, [lo, hi]] of Object.entries(this.ranges)) {
        const v = (t.params || {})[p];
        if (typeof v !== "number" || (lo !== null && v < lo) || (hi !== null && v > hi)) { ok = false; break; }
      }
      if (ok) out.push(t);
    }
    const col = cols.find(c => c.key === this.sort.key) || cols[0];
    const d = this.sort.dir;
    out.sort((a, b) => {
      const x = col.get(a), y = col.get(b);
      if (x === y) return a.id - b.id;
      if (x === null || x === undefined || x === "") return 1;
      if (y === null || y === undefined || y === "") return -1;
      return (x < y ? -1 : 1) * d;
    });
    return out;
  }
  render() {
    const cols = this.columns();
    const rows = this.filtered(cols);
    const best = this.study.best();
    const front = this.study.multi ? new Set(this.study.front().map(t => t.id)) : new Set();
    const pages = Math.max(1, Math.ceil(rows.length / this.size));
    this.page = Math.min(this.page, pages - 1);
    const shown = rows.slice(this.page * this.size, (this.page + 1) * this.size);
    const head = H.el("tr", {}, cols.map(c => H.el("th", {class: "sort" + (this.sort.key === c.key ? " on" : ""),
      title: "sort", onclick: () => { this.sort = {key: c.key, dir: this.sort.key === c.key ? -this.sort.dir : (c.num ? 1 : -1)}; this.render(); }},
      c.label, this.sort.key === c.key ? (this.sort.dir > 0 ? " \u25b2" : " \u25bc") : "")));
    const body = H.el("tbody", {}, shown.map(t => H.el("tr", {
        class: "click " + t.state + ((best && t.id === best.id) || front.has(t.id) ? " best" : ""),
        onclick: () => this.onPick(t)},
      cols.map(c => {
        const v = c.get(t);
        return H.el("td", {class: c.num ? "n" : (c.key === "error" ? "err" : "")}, c.fmt ? c.fmt(v) : H.value(v));
      }))));
    H.clear(this.node).append(
      H.el("div", {class: "bar"}, H.el("h2", {}, `Trials (${rows.length} of ${this.study.rows.size})`), this.filters()),
      H.el("div", {class: "scroll"}, H.el("table", {class: "grid trials"}, H.el("thead", {}, head), body)),
      H.el("div", {class: "pager"},
        H.el("button", {class: "btn", disabled: this.page === 0, onclick: () => { this.page--; this.render(); }}, "\u2039 newer"),
        ` page ${this.page + 1} of ${pages} `,
        H.el("button", {class: "btn", disabled: this.page >= pages - 1, onclick: () => { this.page++; this.render(); }}, "older \u203a")));
  }
  filters() {
    const box = H.el("div", {class: "filters"});
    for (const s of STATES) {
      const cb = H.el("input", {type: "checkbox", onchange: e => {
        e.target.checked ? this.states.add(s) : this.states.delete(s); this.page = 0; this.render(); }});
      cb.checked = this.states.has(s);
      box.append(H.el("label", {class: "chip " + s}, cb, s));
    }
    const keys = this.study.paramKeys().filter(p => [...this.study.rows.values()].some(t => typeof (t.params || {})[p] === "number"));
    if (keys.length) {
      const sel = H.el("select", {"aria-label": "parameter"}, keys.map(k => H.el("option", {value: k}, k)));
      const lo = H.el("input", {type: "number", step: "any", placeholder: "min", class: "range"});
      const hi = H.el("input", {type: "number", step: "any", placeholder: "max", class: "range"});
      const apply = H.el("button", {class: "btn", onclick: () => {
        const a = lo.value === "" ? null : +lo.value, b = hi.value === "" ? null : +hi.value;
        if (a === null && b === null) delete this.ranges[sel.value]; else this.ranges[sel.value] = [a, b];
        this.page = 0; this.render(); }}, "filter");
      box.append(H.el("span", {class: "rangebox"}, sel, lo, hi, apply));
      for (const [p, [a, b]] of Object.entries(this.ranges)) {
        box.append(H.el("button", {class: "chip on", title: "remove this filter",
          onclick: () => { delete this.ranges[p]; this.render(); }},
          `${a === null ? "" : H.num(a) + " \u2264 "}${p}${b === null ? "" : " \u2264 " + H.num(b)} \u2715`));
      }
    }
    return box;
  }
}

// -- one trial ---------------------------------------------------------------------
async function showTrial(study, t) {
  const dialog = H.el("dialog", {class: "trial"});
  const log = H.el("pre", {class: "log"}, "loading the log\u2026");
  const close = H.el("button", {class: "btn", onclick: () => dialog.close()}, "close");
  const fields = [["state", t.state], ["values", (t.values || []).map(v => H.num(v)).join(", ")],
    ["params", JSON.stringify(t.params, null, 1)], ["metrics", t.metrics ? JSON.stringify(t.metrics, null, 1) : ""],
    ["started", t.start ? new Date(t.start * 1000).toLocaleString() : ""],
    ["duration", t.end && t.start ? H.dur(t.end - t.start) : ""], ["devices", (t.devices || []).join(", ")],
    ["host", t.host || ""], ["attempts", String(t.attempts)], ["feasible", t.feasible === null ? "" : String(t.feasible)],
    ["error / stop reason", t.error || ""]];
  dialog.append(H.el("div", {class: "bar"}, H.el("h2", {}, `Trial ${t.id}`), close),
    H.el("dl", {}, fields.filter(f => f[1]).map(([k, v]) => [H.el("dt", {}, k), H.el("dd", {}, v)])),
    H.el("h3", {}, "log (its end)"), log);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();
  try {
    const r = await H.json(`/api/studies/${encodeURIComponent(study.id)}/trials/${t.id}/log`);
    log.textContent = r.log === null ? "(no log)" : (r.log || "(empty)");
  } catch (e) { log.textContent = `cannot read the log: ${e.message}`; }
}

// -- compare -----------------------------------------------------------------------
function comparePage(ids) {
  setCrumbs(H.el("a", {href: "#/"}, "studies"), "compare");
  const chart = H.el("div", {class: "chart wide", id: "compare-chart"});
  const note = H.el("p", {class: "muted"});
  H.clear(main()).append(H.el("h1", {}, "Compare"), note, chart);
  let stopped = false;
  (async () => {
    const snaps = [];
    for (const id of ids) {
      try { snaps.push(new Study(await H.json(`/api/studies/${encodeURIComponent(id)}`))); }
      catch (e) { note.textContent = `cannot load study ${id}: ${e.message}`; }
    }
    if (stopped) return;
    await Charts.ready();
    Charts.compare(chart, note, snaps);
  })();
  return {stop() { stopped = true; }};
}

// -- routing -----------------------------------------------------------------------
function route() {
  if (current) current.stop();
  const hash = location.hash || "#/";
  let m;
  if ((m = hash.match(/^#\/study\/([0-9a-f]+)$/))) current = studyPage(m[1]);
  else if ((m = hash.match(/^#\/compare\/([0-9a-f,]+)$/))) current = comparePage(m[1].split(",").filter(Boolean));
  else current = studyListPage();
}
window.addEventListener("hashchange", route);
route();
