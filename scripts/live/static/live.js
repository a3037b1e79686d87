// The lambdarig live view: subscribes to /events (server-sent events), keeps a rolling window of the
// telemetry rows and redraws the uPlot charts at most once per animation frame.
// For tests and scripts the page exposes on <body>: data-points (rows received in total),
// data-messages, data-state, data-connection, data-ended and data-events (events received).
"use strict";

const WINDOW_S = 30;            // rolling window, seconds of run time
const LAMBDA_CLIP = [0.5, 3];   // as the PNG plot: lambda beyond is drawn on the edge (air at the top)

const CHARTS = [
  {title: "lambda (0.5..3; air on the top edge)", series: [
    {label: "lambda", col: "lambda", stroke: "#1f77b4", clip: LAMBDA_CLIP},
    {label: "true lambda", col: "true_lambda", stroke: "#000", truth: true, clip: LAMBDA_CLIP, air: true}]},
  {title: "O2 %", series: [
    {label: "O2 %", col: "o2_pct", stroke: "#1f77b4"},
    {label: "true O2 %", col: "true_o2_pct", stroke: "#000", truth: true}]},
  {title: "cell temperature °C", series: [
    {label: "estimate °C", col: "temp_c", stroke: "#d62728"},
    {label: "true °C", col: "true_temp_c", stroke: "#000", truth: true}]},
  {title: "Nernst voltage V", series: [{label: "Nernst V", col: "nernst_v", stroke: "#9467bd"}]},
  {title: "pump current mA", series: [{label: "Ip mA", col: "pump_current_ma", stroke: "#2ca02c"}]},
  {title: "heater voltage V", series: [{label: "heater V", col: "heater_v", stroke: "#ff7f0e"}]},
];

const body = document.body;
const $ = (id) => document.getElementById(id);
let index = null;        // column name -> position in a row
let plots = [];          // {chart, spec, data: [t[], y1[], ...]}
let totalPoints = 0, messages = 0, eventCount = 0, ratedMessages = 0;
let dirty = false;

function clip(v, range) {
  if (v === null) return null;
  return Math.min(range[1], Math.max(range[0], v));
}

function chartWidth(div) { return Math.max(300, div.clientWidth - 8); }

function makeCharts(truth) {
  const box = $("charts");
  box.textContent = "";
  // Every box first, then the charts: each measures its box in the finished grid.
  const divs = CHARTS.map(() => {
    const div = document.createElement("div");
    div.className = "chart";
    box.appendChild(div);
    return div;
  });
  plots = CHARTS.map((spec, i) => {
    const series = spec.series.filter((s) => truth || !s.truth);
    const div = divs[i];
    const opts = {
      title: spec.title, width: chartWidth(div), height: 170,
      scales: {x: {time: false}},
      axes: [{label: "t (s)", size: 40}, {size: 60}],
      series: [{label: "t"}].concat(series.map((s) => ({label: s.label, stroke: s.stroke, width: 1.5}))),
      legend: {live: false},   // names only: no cursor, so no values under it
      cursor: {show: false},
    };
    const data = [[]].concat(series.map(() => []));
    return {chart: new uPlot(opts, data, div), series, data, div};
  });
}

function addRows(rows) {
  for (const row of rows) {
    const t = row[index.t_s];
    for (const p of plots) {
      p.data[0].push(t);
      p.series.forEach((s, k) => {
        let v = row[index[s.col]];
        // The feed sends null for NaN and for infinity; true lambda is infinite only in free air.
        if (v === null && s.air) v = s.clip[1];
        p.data[k + 1].push(s.clip ? clip(v, s.clip) : v);
      });
    }
  }
  totalPoints += rows.length;
  const last = rows[rows.length - 1];
  const tmax = last[index.t_s];
  for (const p of plots) {       // drop what left the window, in one splice per array
    let k = 0;
    while (k < p.data[0].length && p.data[0][k] < tmax - WINDOW_S) k++;
    if (k) p.data.forEach((arr) => arr.splice(0, k));
  }
  showReadings(last);
  dirty = true;
}

function fmt(v, digits) { return v === null ? "–" : v.toFixed(digits); }

function showReadings(row) {
  $("time").textContent = row[index.t_s].toFixed(1);
  const lam = row[index.lambda];
  $("lambda").textContent = lam === null ? "–" : (lam >= 50 ? "air" : lam.toFixed(3));
  $("o2").textContent = fmt(row[index.o2_pct], 2);
  $("temp").textContent = fmt(row[index.temp_c], 0);
  const state = row[index.state];
  if (body.dataset.state !== state) {
    body.dataset.state = state;
    $("state").textContent = state;
    $("state").className = "badge state " + state;
  }
  $("fault").textContent = row[index.fault] ? "fault " + row[index.fault] : "";
}

function addEvents(events) {
  const list = $("events");
  for (const e of events) {
    const li = document.createElement("li");
    li.className = e.kind;
    li.dataset.code = e.code;
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = e.t_s.toFixed(2) + " s";
    li.appendChild(t);
    const label = e.kind === "state" ? e.text : e.kind + " " + e.code + ": " + e.text;
    li.appendChild(document.createTextNode(label));
    list.insertBefore(li, list.firstChild);   // newest on top
  }
  eventCount += events.length;
  body.dataset.events = String(eventCount);
}

function setConnection(text, cls) {
  body.dataset.connection = text;
  $("connection").textContent = text;
  $("connection").className = "badge " + (cls || "");
}

function onMessage(msg) {
  messages++;
  ratedMessages++;
  if (msg.columns) {             // the first message of every (re)connection
    index = {};
    msg.columns.forEach((name, i) => { index[name] = i; });
    $("title").textContent = msg.title;
    document.title = msg.title + " – live";
    plots = [];                  // a new connection sends what the server holds again, from the start
    $("events").textContent = "";
    eventCount = 0;
    return;
  }
  if (msg.rows && msg.rows.length) {
    if (!plots.length) makeCharts(msg.truth);
    addRows(msg.rows);
  }
  if (msg.events && msg.events.length) addEvents(msg.events);
  if (msg.ended) {
    body.dataset.ended = msg.ended;
    $("ended").textContent = msg.ended;
    $("ended").hidden = false;
    setConnection("run ended");
  }
  body.dataset.points = String(totalPoints);
  body.dataset.messages = String(messages);
}

function draw() {
  if (dirty) {
    for (const p of plots) p.chart.setData(p.data);
    dirty = false;
  }
  requestAnimationFrame(draw);
}

function connect() {
  const source = new EventSource("events");
  source.onopen = () => { if (!body.dataset.ended) setConnection("live", "live"); };
  source.onmessage = (e) => onMessage(JSON.parse(e.data));
  source.onerror = () => {
    if (body.dataset.ended) {    // the run is over and its server has gone: nothing to come back to
      source.close();
      setConnection("run ended; server closed");
    } else {
      setConnection("reconnecting", "lost");   // EventSource retries by itself
    }
  };
}

setInterval(() => { $("rate").textContent = String(ratedMessages); ratedMessages = 0; }, 1000);
window.addEventListener("resize", () => {
  for (const p of plots) p.chart.setSize({width: chartWidth(p.div), height: 170});
});
requestAnimationFrame(draw);
connect();
