// The page: one EventSource on /api/stream keeps `state` current; changes are drawn at
// the next animation frame, so a burst of 500 pod updates costs one redraw, not 500.
import { nodesHTML, unscheduledHTML, deploymentsHTML, tfjobsHTML, eventsHTML } from "./render.js";
import { openPod } from "./detail.js";

// Who we are is the HttpOnly cookie the server set at login: sent with every request,
// never seen by this script.
const SHOWN_EVENTS = 60;

const state = {
  nodes: new Map(), pods: new Map(), deployments: new Map(), replicasets: new Map(),
  events: new Map(), tfjobs: new Map(), metrics: { nodes: {}, pods: {}, gpuDevices: {} },
};
// When each object's latest change was drawn (ms since the epoch): benchmarks/dashboard.py
// reads it to time "a change in the cluster" -> "the page shows it".
const drawnAt = new Map();
window.dashboard = { state, drawnAt };

let dirty = new Set();
let pending = [];

function apply(message) {
  switch (message.op) {
    case "snapshot":
      for (const [resource, records] of Object.entries(message.records)) {
        state[resource] = new Map(Object.entries(records));
        for (const key of state[resource].keys()) pending.push(`${resource}:${key}`);
      }
      state.metrics = message.metrics;
      dirty = new Set(["nodes", "deployments", "tfjobs", "events"]);
      break;
    case "put":
      state[message.resource].set(message.key, message.record);
      break;
    case "delete":
      state[message.resource].delete(message.key);
      break;
    case "metrics":
      state.metrics = message.metrics;
      dirty.add("nodes");
      return;
  }
  if (message.op !== "snapshot") {
    pending.push(`${message.resource}:${message.key}`);
    dirty.add({ nodes: "nodes", pods: "nodes", replicasets: "deployments" }[message.resource] || message.resource);
    if (message.resource === "pods") dirty.add("deployments");
  }
}

let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(draw);
  setTimeout(draw, 100);   // a hidden tab gets no animation frames: draw anyway
}

function draw() {
  if (!scheduled) return;
  scheduled = false;
  const started = performance.now();
  const parts = dirty;
  dirty = new Set();
  if (parts.has("nodes")) {
    document.getElementById("nodes").innerHTML = nodesHTML(state);
    document.getElementById("unscheduled").innerHTML = unscheduledHTML(state);
  }
  if (parts.has("deployments")) document.getElementById("deployments").innerHTML = deploymentsHTML(state);
  if (parts.has("tfjobs")) document.getElementById("tfjobs").innerHTML = tfjobsHTML(state);
  if (parts.has("events")) {
    const events = [...state.events.values()].sort((a, b) => b.time.localeCompare(a.time)).slice(0, SHOWN_EVENTS);
    document.getElementById("events").innerHTML = eventsHTML(events);
  }
  const ready = [...state.nodes.values()].filter((n) => n.ready === "True").length;
  document.getElementById("summary").textContent =
    `${ready}/${state.nodes.size} nodes ready · ${state.pods.size} pods · ${state.deployments.size} deployments`;
  const now = Date.now();
  for (const key of pending) drawnAt.set(key, now);
  pending = [];
  window.dashboard.drawMs = performance.now() - started;
}

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("/api/stream");
  source.onopen = () => { status.textContent = "live"; status.className = "connection live"; };
  source.onerror = async () => {
    status.textContent = "reconnecting"; status.className = "connection lost";
    if (source.readyState !== EventSource.CLOSED) return;     // EventSource retries by itself
    // refused (401: the token expired; 403: nothing left to see): the page says why
    const resp = await fetch("/api/whoami");
    if (resp.status === 401) { location.reload(); return; }
    const again = await fetch("/");
    if (again.status === 403) { location.reload(); return; }
    setTimeout(connect, 2000);                              // the dashboard itself was down
  };
  source.onmessage = (e) => {
    for (const message of JSON.parse(e.data)) apply(message);
    schedule();
  };
}

document.addEventListener("click", (e) => {
  const target = e.target.closest("[data-pod]");
  if (target) openPod(target.dataset.pod);
});
fetch("/api/whoami").then((r) => r.ok ? r.json() : null).then((me) => {
  if (me) document.getElementById("whoami").textContent = me.username;
});
connect();
