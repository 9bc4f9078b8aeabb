// hpcore dashboard charts (plotly.js, served by the dashboard itself from the plotly package).
//
// Strings from a study go into charts as data; plotly renders hover and tick text
// as text except for a few formatting tags, which tx() escapes.
"use strict";

const MAX_LINES = 2000;     // parallel coordinates: lines drawn at most (the best always kept)
const MAX_POINTS = 20000;   // slice plots: points per panel at most
const COLORS = {completed: "#2f6fb0", stopped: "#d08a18", running: "#18a058", failed: "#c0392b",
                best: "#7b2cbf", front: "#7b2cbf"};

// WebGL only where SVG would be slow: a WebGL context costs about a second to start
// in a browser without a GPU, and a few thousand SVG points draw faster than that.
function gl(n) { return n > 3000 ? "scattergl" : "scatter"; }

function tx(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

// Keep `limit` rows: the `keep` best (by key) always, an even sample of the rest.
function sample(rows, limit, key) {
  if (rows.length <= limit) return {rows, note: ""};
  const sorted = rows.slice().sort((a, b) => key(a) - key(b));
  const keep = sorted.slice(0, Math.floor(limit / 10));
  const rest = sorted.slice(keep.length);
  const step = rest.length / (limit - keep.length);
  for (let i = 0; i < limit - keep.length; i++) keep.push(rest[Math.floor(i * step)]);
  return {rows: keep, note: `showing ${limit.toLocaleString()} of ${rows.length.toLocaleString()} trials (the best ${Math.floor(limit / 10)} and an even sample of the rest)`};
}

const BASE = {
  margin: {l: 60, r: 20, t: 36, b: 48}, font: {family: "system-ui, sans-serif", size: 12},
  paper_bgcolor: "#fff", plot_bgcolor: "#fff", hovermode: "closest", showlegend: true,
  legend: {orientation: "h", y: -0.22},
};
const CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"]};

class Charts {
  static ready() {
    if (!Charts._loading) {
      Charts._loading = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = "/static/plotly.min.js";
        s.onload = resolve;
        s.onerror = () => reject(new Error("plotly.js could not be loaded"));
        document.head.appendChild(s);
      });
    }
    return Charts._loading;
  }

  constructor(node, study) {
    this.study = study;
    this.topK = 20;
    this.showFinished = true;
    this.last = 0;
    this.timer = null;
    const box = (id, title, wide) => {
      const note = H.el("p", {class: "note"});
      const div = H.el("div", {class: "chart", id});
      const card = H.el("div", {class: "card" + (wide ? " wide" : "")}, H.el("h2", {}, title), note, div);
      return {card, div, note};
    };
    this.history = box("chart-history", study.multi ? "Objectives and Pareto front" : "History");
    this.curves = box("chart-curves", "Learning curves");
    this.importance = box("chart-importance", "Parameter importance");
    this.contour = box("chart-contour", "GP mean of the two most important parameters");
    this.parallel = box("chart-parallel", "Parallel coordinates", true);
    this.slices = box("chart-slices", "Slices", true);
    this.curveControls = this.controls();
    this.curves.card.insertBefore(this.curveControls, this.curves.note);
    H.clear(node).append(this.history.card, this.curves.card, this.importance.card, this.contour.card,
                         this.parallel.card, this.slices.card);
    this.importance.note.textContent = "waiting for the first finished trials";
  }

  controls() {
    const k = H.el("select", {"aria-label": "curves shown", onchange: e => { this.topK = +e.target.value; this.render(true); }},
      [10, 20, 50, 100].map(n => H.el("option", {value: n, selected: n === this.topK}, `best ${n}`)));
    const fin = H.el("input", {type: "checkbox", onchange: e => { this.showFinished = e.target.checked; this.render(true); }});
    fin.checked = true;
    return H.el("div", {class: "filters"}, k, H.el("label", {class: "chip"}, fin, "finished"),
      H.el("span", {class: "muted"}, " + every running trial"));
  }

  stop() { this.stopped = true; clearTimeout(this.timer); clearTimeout(this.liveTimer); clearTimeout(this.insightTimer); }

  // Draw now if enough time passed since the last drawing; otherwise once, soon. A large
  // study's charts take a while to draw: they are redrawn at most a sixth of the time,
  // so the table and the running trials stay live in between.
  render(now) {
    if (now) this.forced = true;  // a control changed, or the first drawing: every chart
    const gap = Math.min(10000, Math.max(2000, 5 * (this.took || 0)));
    const wait = now ? 0 : Math.max(0, gap - (Date.now() - this.last));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.draw(), wait);
  }

  async draw() {
    this.last = Date.now();
    // plotly.js takes the browser a few seconds to parse and blocks the page meanwhile:
    // it loads only after the header and the table have been painted.
    if (!Charts._loading) await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    try { await Charts.ready(); }
    catch (e) { this.history.note.textContent = e.message; return; }
    const s = this.study, started = Date.now();
    const scored = [...s.rows.values()].filter(t => s.scored(t));
    const pause = () => new Promise(r => setTimeout(r, 0));  // let polls and clicks in
    if (s.multi) this.drawFront(scored); else this.drawHistory(scored);
    await pause();
    await this.drawCurves(scored);
    // Parallel coordinates and slices of a large study take the longest to draw and
    // change least with one more trial: they follow at most every 10 times their cost.
    const heavyStarted = Date.now();
    const heavyDue = (this.heavyAt || 0) + Math.max(10000, 10 * (this.heavyTook || 0));
    if (!this.drawn || this.forced || heavyStarted >= heavyDue) {
      await pause();
      this.drawParallel(scored);
      await pause();
      this.drawSlices(scored);
      this.heavyAt = Date.now();
      if (this.drawn) this.heavyTook = this.heavyAt - heavyStarted;
    } else {  // left out now: drawn once due, even if the study changes no more
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.draw(), heavyDue - heavyStarted);
    }
    this.forced = false;
    if (this.drawn) this.took = heavyStarted - started;  // the first drawing pays one-time set-up
    if (!this.drawn) this.pollInsight();
    this.drawn = true;
    this.last = Date.now();
  }

  // Only running trials' curves grew: redraw the learning curves alone, at most once a
  // second (now, if the last live drawing is that old; else once, when it is).
  renderLive() {
    if (this.liveTimer || !this.drawn) return;
    const wait = Math.max(0, 1000 - (Date.now() - (this.liveLast || 0)));
    this.liveTimer = setTimeout(async () => {
      this.liveLast = Date.now();
      const s = this.study;
      try { await this.drawCurves([...s.rows.values()].filter(t => s.scored(t))); }
      finally { this.liveTimer = null; }
    }, wait);
  }

  // Importance and the GP mean are computed by the server in the background: ask for the
  // latest every 10 s (2 s while it computes); the answer is small when nothing is new.
  async pollInsight() {
    if (this.stopped) return;
    let r = null;
    try {
      r = await H.json(`/api/studies/${encodeURIComponent(this.study.id)}/insight?have=${this.insightStamp || 0}`);
    } catch (e) { this.importance.note.textContent = `importance unavailable: ${e.message}`; }
    if (r && !("importance" in r) && r.state === "computing" && !this.insightStamp) {
      this.importance.note.textContent = this.contour.note.textContent = "computing\u2026";
    }
    if (r && r.stamp !== this.insightStamp && "importance" in r) {
      this.insightStamp = r.stamp;
      this.drawImportance(r);
      this.drawContour(r);
    }
    if (!this.stopped) this.insightTimer = setTimeout(() => this.pollInsight(), r && r.state === "computing" ? 2000 : 10000);
  }

  drawImportance(r) {
    const s = this.study, metrics = Object.keys(r.importance);
    const first = metrics.length ? r.importance[metrics[0]] : {};
    const params = Object.keys(first).reverse();  // the most important on top
    this.importance.note.textContent = (r.notes || []).filter(n => n.startsWith("importance")).join(" ") ||
      `functional ANOVA of a GP fit to ${r.trials.toLocaleString()} finished trials (at most 300 of them)`;
    if (!params.length) { Plotly.purge(this.importance.div); return; }
    const palette = [COLORS.completed, COLORS.stopped, COLORS.running, COLORS.best];
    const traces = metrics.map((m, k) => ({type: "bar", orientation: "h", name: tx(m), y: params.map(tx),
      x: params.map(p => r.importance[m][p] || 0), marker: {color: palette[k % palette.length]},
      hovertemplate: "%{y}: %{x:.1%}<extra>" + tx(m) + "</extra>"}));
    Plotly.react(this.importance.div, traces, {...BASE, showlegend: metrics.length > 1, barmode: "group",
      height: Math.max(260, 80 + 28 * params.length * Math.max(1, metrics.length / 2)),
      margin: {l: 140, r: 20, t: 20, b: 48}, xaxis: {title: {text: "share of the variance explained"}, tickformat: ".0%"},
      yaxis: {automargin: true}}, CONFIG);
    s.importanceOrder = Object.keys(first);
  }

  drawContour(r) {
    const s = this.study, sf = r.surface;
    const notes = (r.notes || []).filter(n => n.startsWith("GP mean")).join(" ");
    if (!sf) { this.contour.note.textContent = notes || "needs at least 3 finished trials and two parameters"; Plotly.purge(this.contour.div); return; }
    // Category labels are data, shown as text: escaped like every other string (tx).
    const [ax, ay] = sf.axes.map(a => a.categorical ? {...a, values: a.values.map(tx)} : a);
    const at = (a, v) => a.categorical ? tx(v) : v;
    sf.points = sf.points.map(p => [at(ax, p[0]), at(ay, p[1]), p[2]]);
    const cat = ax.categorical || ay.categorical;
    const best = s.best();
    this.contour.note.textContent = `${tx(sf.metric)} predicted by a GP fit to ${sf.points.length} trials; ` +
      (s.paramKeys().length > 2 ? "the other parameters at the best trial's values; " : "") +
      "grey where too few trials are near for the GP to be sure" + (sf.unsure_everywhere ? " (everywhere, so far)" : "");
    const surface = {type: cat ? "heatmap" : "contour", x: ax.values, y: ay.values, z: sf.z, colorscale: "Viridis",
      reversescale: s.sign() > 0, connectgaps: false, hoverongaps: false, ncontours: 14, name: "GP mean",
      contours: {coloring: "fill", showlines: true}, line: {width: 0.5, color: "rgba(0,0,0,0.35)"},
      colorbar: {title: {text: tx(sf.metric)}}, hovertemplate: "%{x}, %{y}: %{z:.4g}<extra>GP mean</extra>"};
    const pts = sf.points.filter(p => !best || p[2] !== best.id);
    const bestPt = best ? sf.points.find(p => p[2] === best.id) : null;
    const traces = [surface,
      {type: "scatter", mode: "markers", name: "trials", x: pts.map(p => p[0]), y: pts.map(p => p[1]),
       text: pts.map(p => `trial ${p[2]}`), hoverinfo: "text", marker: {size: 6, color: "#fff", line: {color: "#000", width: 1}}}];
    if (bestPt) traces.push({type: "scatter", mode: "markers", name: `best (trial ${best.id})`, x: [bestPt[0]], y: [bestPt[1]],
       hoverinfo: "name", marker: {symbol: "star", size: 16, color: "#e63946", line: {color: "#000", width: 1}}});
    const axis = a => ({title: {text: tx(a.key)}, type: a.categorical ? "category" : (a.log ? "log" : "linear"),
                        ...(a.log ? {dtick: "D2"} : {})});
    Plotly.react(this.contour.div, traces, {...BASE, plot_bgcolor: "#d9d9d9", xaxis: axis(ax), yaxis: axis(ay),
      legend: {orientation: "h", y: -0.25}}, CONFIG);
  }

  drawHistory(scored) {
    const s = this.study, sign = s.sign();
    const byId = scored.slice().sort((a, b) => a.id - b.id);
    const bestX = [], bestY = [];
    let best = Infinity;
    for (const t of byId) {
      if (sign * t.values[0] < best) best = sign * t.values[0];
      bestX.push(t.id); bestY.push(sign * best);
    }
    const traces = ["completed", "stopped"].map(state => {
      const ts = byId.filter(t => t.state === state);
      return {type: gl(byId.length), mode: "markers", name: state, x: ts.map(t => t.id), y: ts.map(t => t.values[0]),
              text: ts.map(t => `trial ${t.id}`), marker: {color: COLORS[state], size: 5, opacity: 0.7}};
    });
    traces.push({type: "scatter", mode: "lines", name: "best so far", x: bestX, y: bestY,
                 line: {color: COLORS.best, width: 2, shape: "hv"}});
    Plotly.react(this.history.div, traces, {...BASE, xaxis: {title: {text: "trial"}, ...(byId.length < 10 ? {dtick: 1} : {})},
      yaxis: {title: {text: tx(s.info.metrics[0])}}}, CONFIG);
  }

  drawFront(scored) {
    const s = this.study, m = s.info.metrics;
    const front = new Set(s.front().map(t => t.id));
    const pts = (sel, name, color, size) => {
      const ts = scored.filter(sel).sort((a, b) => a.values[0] - b.values[0]);
      return {type: gl(scored.length), mode: name === "Pareto front" ? "lines+markers" : "markers", name, x: ts.map(t => t.values[0]),
              y: ts.map(t => t.values[1]), text: ts.map(t => `trial ${t.id}`), marker: {color, size},
              line: {shape: "hv", color}};
    };
    Plotly.react(this.history.div, [pts(t => !front.has(t.id), "dominated", "#9aa5b1", 5),
                                    pts(t => front.has(t.id), "Pareto front", COLORS.front, 8)],
      {...BASE, xaxis: {title: {text: tx(m[0]) + ` (${s.info.modes[0]})`}},
       yaxis: {title: {text: tx(m[1]) + ` (${s.info.modes[1]})`}}}, CONFIG);
    this.history.note.textContent = m.length > 2 ? `the first two of ${m.length} objectives` : "";
  }

  async drawCurves(scored) {
    const s = this.study, sign = s.sign();
    const running = [...s.rows.values()].filter(t => t.state === "running");
    const top = this.showFinished ? scored.slice().sort((a, b) => sign * (a.values[0] - b.values[0])).slice(0, this.topK) : [];
    const want = [...top, ...running].map(t => t.id).filter(id => !s.curves.has(id) || s.partial.has(id));
    for (let i = 0; i < want.length; i += 200) {
      const r = await H.json(`/api/studies/${encodeURIComponent(s.id)}/curves?ids=${want.slice(i, i + 200).join(",")}`);
      for (const [id, c] of Object.entries(r.curves)) s.fetched(+id, c);
    }
    const best = s.best();
    // One trace per kind, curves joined by gaps: a legend of kinds, never one entry per trial.
    const line = (ts, name, color, width) => {
      const x = [], y = [], text = [];
      for (const t of ts) {
        for (const [step, v] of s.curves.get(t.id) || []) { x.push(step); y.push(v); text.push(`trial ${t.id}`); }
        x.push(null); y.push(null); text.push("");
      }
      return {type: gl(x.length), mode: "lines", name, x, y, text, line: {color, width}, opacity: 0.8, connectgaps: false};
    };
    const stoppedEnds = top.filter(t => t.state === "stopped").map(t => {
      const c = s.curves.get(t.id) || [];
      return {t, p: c[c.length - 1]};
    }).filter(e => e.p);
    const traces = [
      line(top.filter(t => t.state === "completed" && (!best || t.id !== best.id)), "completed", COLORS.completed, 1),
      line(top.filter(t => t.state === "stopped"), "stopped early", COLORS.stopped, 1),
      line(running, "running", COLORS.running, 2),
      {type: "scatter", mode: "markers", name: "stopped here", x: stoppedEnds.map(e => e.p[0]), y: stoppedEnds.map(e => e.p[1]),
       text: stoppedEnds.map(e => `trial ${e.t.id}: ${tx(e.t.error || "stopped")}`), hoverinfo: "text",
       marker: {symbol: "x", size: 9, color: COLORS.stopped}},
    ];
    if (best && this.showFinished) traces.push(line([best], `best (trial ${best.id})`, COLORS.best, 3));
    Plotly.react(this.curves.div, traces, {...BASE, xaxis: {title: {text: "step"}},
      yaxis: {title: {text: tx(s.info.metrics[0])}}}, CONFIG);
    this.curves.note.textContent = `${top.length} best finished and ${running.length} running of ${s.rows.size} trials`;
  }

  dimensions(rows) {
    const s = this.study, space = s.info.space || {};
    const dims = [];
    for (const p of s.paramKeys()) {
      const spec = space[p] || {};
      const vals = rows.map(t => (t.params || {})[p]);
      if (spec.type === "categorical" || vals.some(v => v !== undefined && typeof v !== "number")) {
        const choices = spec.choices || [...new Set(vals.filter(v => v !== undefined).map(v => JSON.stringify(v)))].map(v => JSON.parse(v));
        const keys = choices.map(c => JSON.stringify(c));
        dims.push({label: tx(p), values: vals.map(v => keys.indexOf(JSON.stringify(v))),
                   tickvals: choices.map((_, i) => i), ticktext: choices.map(c => tx(typeof c === "string" ? c : JSON.stringify(c)))});
      } else {
        const log = spec.log && vals.every(v => v === undefined || v > 0);
        dims.push({label: tx(p) + (log ? " (log10)" : ""), values: vals.map(v => v === undefined ? NaN : (log ? Math.log10(v) : v))});
      }
    }
    return dims;
  }

  drawParallel(scored) {
    const s = this.study;
    const {rows, note} = sample(scored, MAX_LINES, t => s.sign() * t.values[0]);
    const dims = this.dimensions(rows);
    s.info.metrics.forEach((m, k) => dims.push({label: tx(m), values: rows.map(t => t.values[k])}));
    this.parallel.note.textContent = note;
    if (!rows.length) { Plotly.purge(this.parallel.div); return; }
    Plotly.react(this.parallel.div, [{type: "parcoords", dimensions: dims,
      line: {color: rows.map(t => t.values[0]), colorscale: "Viridis", reversescale: s.sign() > 0, showscale: true,
             colorbar: {title: {text: tx(s.info.metrics[0])}}}}],
      {...BASE, margin: {l: 70, r: 70, t: 50, b: 30}}, CONFIG);
  }

  drawSlices(scored) {
    const s = this.study;
    const {rows, note} = sample(scored, MAX_POINTS, t => s.sign() * t.values[0]);
    const dims = this.dimensions(rows).slice(0, 8);
    this.slices.note.textContent = note;
    const cols = Math.min(4, Math.max(1, dims.length));
    const layout = {...BASE, showlegend: false, grid: {rows: Math.ceil(dims.length / cols), columns: cols, pattern: "independent"},
                    height: 260 * Math.ceil(dims.length / cols), margin: {l: 50, r: 10, t: 30, b: 40}};
    const traces = dims.map((d, i) => {
      const ax = i === 0 ? "" : String(i + 1);
      layout["xaxis" + ax] = {title: {text: d.label}, ...(d.ticktext ? {tickvals: d.tickvals, ticktext: d.ticktext} : {})};
      layout["yaxis" + ax] = {title: {text: i % cols === 0 ? tx(s.info.metrics[0]) : ""}};
      return {type: gl(rows.length), mode: "markers", x: d.values, y: rows.map(t => t.values[0]), xaxis: "x" + ax, yaxis: "y" + ax,
              text: rows.map(t => `trial ${t.id}`), marker: {size: 5, color: rows.map(t => t.id), colorscale: [[0, "#b7cde8"], [1, "#0b3c75"]], opacity: 0.8}};
    });
    Plotly.react(this.slices.div, traces, layout, CONFIG);
  }

  // Several studies' best-so-far curves, with the median and IQR band of each strategy.
  static compare(node, note, studies) {
    const traces = [], groups = new Map();
    const palette = ["#2f6fb0", "#d08a18", "#18a058", "#c0392b", "#7b2cbf", "#6c757d"];
    for (const s of studies) {
      if (s.multi) continue;
      const sign = s.sign();
      const ts = [...s.rows.values()].filter(t => s.scored(t)).sort((a, b) => a.id - b.id);
      let best = Infinity;
      const y = ts.map(t => { best = Math.min(best, sign * t.values[0]); return sign * best; });
      const key = s.info.strategy || "study";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(y);
      traces.push({type: "scatter", mode: "lines", name: tx(s.info.name || s.label), x: y.map((_, i) => i + 1), y,
                   line: {width: 1, color: palette[[...groups.keys()].indexOf(key) % palette.length]}, opacity: 0.35,
                   legendgroup: key, showlegend: false, hovertemplate: `${tx(s.label)}<br>%{x}: %{y}<extra></extra>`});
    }
    [...groups.entries()].forEach(([key, curves], g) => {
      const color = palette[g % palette.length];
      const n = Math.max(...curves.map(c => c.length));
      const q = (arr, p) => { const a = arr.slice().sort((x, y) => x - y); const i = (a.length - 1) * p;
                              const lo = Math.floor(i); return a[lo] + (a[Math.ceil(i)] - a[lo]) * (i - lo); };
      const x = [], med = [], lo = [], hi = [];
      for (let i = 0; i < n; i++) {
        const at = curves.filter(c => c.length > i).map(c => c[i]);
        x.push(i + 1); med.push(q(at, 0.5)); lo.push(q(at, 0.25)); hi.push(q(at, 0.75));
      }
      traces.push({type: "scatter", mode: "lines", x, y: hi, line: {width: 0}, showlegend: false, hoverinfo: "skip", legendgroup: key});
      traces.push({type: "scatter", mode: "lines", x, y: lo, fill: "tonexty", fillcolor: color + "33", line: {width: 0},
                   name: `${tx(key)} IQR`, legendgroup: key, hoverinfo: "skip"});
      traces.push({type: "scatter", mode: "lines", x, y: med, name: `${tx(key)} median (${curves.length} studies)`,
                   line: {color, width: 3}, legendgroup: key});
    });
    const multi = studies.filter(s => s.multi).length;
    note.textContent = `${studies.length - multi} studies, grouped by strategy: thin lines are single studies, the band ` +
      "is the interquartile range and the thick line the median of each group's best value so far." +
      (multi ? ` ${multi} with several objectives left out.` : "");
    const first = studies.find(s => !s.multi);
    Plotly.react(node, traces, {...BASE, height: 520, xaxis: {title: {text: "finished trials"}},
      yaxis: {title: {text: first ? `best ${tx(first.info.metrics[0])} so far` : ""}}}, CONFIG);
  }
}
