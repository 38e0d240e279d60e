// HTML for each part of the page, from the records the server sends (views.py).
// Pure functions of the state: the page is redrawn from them, never patched by hand.

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) =>
  ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// The colour of a pod, from kubectl's STATUS column (and the phase behind it).
export function podClass(pod) {
  if (pod.deleting) return "terminating";
  const s = pod.status;
  if (s === "Running" && pod.phase === "Running") {
    const [ready, total] = pod.ready.split("/");
    return ready === total ? "running" : "creating";
  }
  if (s === "Completed" || pod.phase === "Succeeded") return "done";
  if (pod.phase === "Failed" || /Error|BackOff|Failed|Invalid|OOMKilled|ExitCode|Signal|Evicted|Unknown/.test(s))
    return "failed";
  if (s === "ContainerCreating" || s === "PodInitializing" || s.startsWith("Init:")) return "creating";
  return "pending";
}

const finished = (pod) => pod.phase === "Succeeded" || pod.phase === "Failed";

function podChip(pod) {
  const key = `${pod.namespace}/${pod.name}`;
  const title = `${key}  ${pod.status}  ready ${pod.ready}  restarts ${pod.restarts}` +
    (pod.gpus ? `  GPUs ${pod.gpus}` : "") + (pod.ip ? `  ${pod.ip}` : "");
  return `<span class="pod ${podClass(pod)}${pod.gpus ? " gpu" : ""}" data-pod="${esc(key)}" ` +
    `data-status="${esc(pod.status)}" title="${esc(title)}">${esc(pod.name)}</span>`;
}

// The node's GPU slots (its allocatable nvidia.com/gpu) and the pods holding them. Which
// GPU a pod got only its kubelet knows: its Summary's accelerator ids, read with metrics.
export function gpuSlots(node, pods, gpuDevices) {
  const slots = Array.from({ length: Math.max(node.gpus, node.gpuCapacity) }, (_, i) =>
    ({ holder: null, device: null, unhealthy: i >= node.gpus }));
  const holders = pods.filter((p) => p.gpus > 0 && !finished(p))
    .sort((a, b) => (a.created || "").localeCompare(b.created || "") || a.name.localeCompare(b.name));
  let next = 0;
  for (const pod of holders) {
    const key = `${pod.namespace}/${pod.name}`;
    const devices = gpuDevices[key] || [];
    for (let i = 0; i < pod.gpus; i++) {
      const slot = slots[next] || (slots[next] = { overflow: true });
      Object.assign(slot, { holder: key, name: pod.name, device: devices[i] || null });
      next++;
    }
  }
  return slots;
}

const pct = (used, total) => total ? Math.min(100, Math.round(100 * used / total)) : 0;

function cpuMillis(q) {
  if (!q) return 0;
  if (q.endsWith("m")) return parseInt(q, 10);
  return Math.round(parseFloat(q) * 1000);
}

function bytes(q) {
  if (!q) return 0;
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  if (!m) return 0;
  const units = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return parseFloat(m[1]) * (units[m[2]] ?? 1);
}

const gib = (b) => `${(b / 1024 ** 3).toFixed(1)}Gi`;

function usage(node, metrics) {
  const u = metrics.nodes[node.name];
  if (!u) return `<div class="node-meta">cpu ${esc(node.cpu)} · mem ${gib(bytes(node.memory))} · no metrics yet</div>`;
  const cpu = pct(u.cpu, cpuMillis(node.cpu)), mem = pct(u.memory, bytes(node.memory));
  return `<div class="node-meta" data-metrics="${esc(node.name)}">cpu ${u.cpu}m of ${esc(node.cpu)} (${cpu}%)</div>` +
    `<div class="bar"><span style="width:${cpu}%"></span></div>` +
    `<div class="node-meta">memory ${gib(u.memory)} of ${gib(bytes(node.memory))} (${mem}%)</div>` +
    `<div class="bar"><span style="width:${mem}%"></span></div>`;
}

function nodeBox(node, pods, metrics) {
  const ready = node.ready === "True";
  const slots = gpuSlots(node, pods, metrics.gpuDevices);
  const gpus = slots.length ? `<div class="gpus">` + slots.map((s, i) =>
    `<div class="gpu-slot${s.holder ? " held" : ""}" data-node="${esc(node.name)}" data-slot="${i}"` +
    (s.holder ? ` data-holder="${esc(s.holder)}" data-pod="${esc(s.holder)}"` : "") +
    ` title="${esc(s.device || `GPU slot ${i}`)}${s.holder ? ": " + esc(s.holder) : ""}">` +
    `<span>${esc(s.device || `gpu ${i}`)}</span><span>${esc(s.holder ? s.name : s.unhealthy ? "unhealthy" : "free")}</span></div>`
  ).join("") + `</div>` : "";
  return `<div class="node${ready ? "" : " notready"}" data-node="${esc(node.name)}" data-ready="${esc(node.ready)}">` +
    `<div class="node-head"><span class="node-name">${esc(node.name)}</span>` +
    `<span class="badge${ready && !node.status.includes("Disabled") ? "" : " bad"}">${esc(node.status)}</span></div>` +
    (node.taints.length ? `<div class="node-meta">taints: ${esc(node.taints.join(", "))}</div>` : "") +
    usage(node, metrics) + gpus +
    `<div class="pods">${pods.map(podChip).join("")}</div></div>`;
}

export function nodesHTML(state) {
  const byNode = new Map();
  for (const pod of state.pods.values()) {
    if (!byNode.has(pod.node)) byNode.set(pod.node, []);
    byNode.get(pod.node).push(pod);
  }
  for (const list of byNode.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  const nodes = [...state.nodes.values()].sort((a, b) =>
    a.name.localeCompare(b.name, undefined, { numeric: true }));
  return nodes.map((n) => nodeBox(n, byNode.get(n.name) || [], state.metrics)).join("");
}

export function unscheduledHTML(state) {
  const known = new Set(state.nodes.keys());
  const byName = (a, b) => a.name.localeCompare(b.name);
  const pending = [...state.pods.values()].filter((p) => !p.node).sort(byName);
  // a user who may not read nodes (say, `view` in one namespace) still sees their pods
  const elsewhere = [...state.pods.values()].filter((p) => p.node && !known.has(p.node)).sort(byName);
  const box = (title, badge, pods) => !pods.length ? "" :
    `<div class="node" data-node=""><div class="node-head"><span class="node-name">${title}</span>` +
    `<span class="badge bad">${badge(pods.length)}</span></div><div class="pods">${pods.map(podChip).join("")}</div></div>`;
  return box("Not scheduled", (n) => `${n} pending`, pending) +
    box("On nodes not shown to you", (n) => `${n} pods`, elsewhere);
}

export function deploymentsHTML(state) {
  const deps = [...state.deployments.values()].sort((a, b) =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  if (!deps.length) return `<div class="muted">none</div>`;
  const sets = [...state.replicasets.values()];
  return deps.map((d) => {
    const rolling = !d.complete && d.updated < d.replicas || d.available < d.replicas;
    const rss = sets.filter((rs) => rs.namespace === d.namespace && rs.owner && rs.owner.kind === "Deployment" &&
      rs.owner.name === d.name && (rs.replicas > 0 || rs.revision === d.revision))
      .sort((a, b) => Number(b.revision) - Number(a.revision));
    return `<div class="deploy" data-deployment="${esc(d.namespace)}/${esc(d.name)}">` +
      `<div class="deploy-head"><b>${esc(d.namespace)}/${esc(d.name)}</b><span>revision ${esc(d.revision || "-")}</span></div>` +
      `<div class="bar"><span style="width:${pct(d.updated, d.replicas)}%"></span></div>` +
      `<div class="muted">${d.ready}/${d.replicas} ready · ${d.updated} up-to-date · ${d.available} available` +
      (rolling ? ` · <span class="rollout">rolling out</span>` : "") + `</div>` +
      `<div class="muted">${esc(d.images.join(", "))}</div>` +
      rss.map((rs) => `<div class="muted">↳ ${esc(rs.name)} (rev ${esc(rs.revision)}): ${rs.ready}/${rs.replicas}</div>`).join("") +
      `</div>`;
  }).join("");
}

export function tfjobsHTML(state) {
  const jobs = [...state.tfjobs.values()];
  if (!jobs.length) return `<div class="muted">none</div>`;
  return jobs.map((j) => `<div class="tfjob" data-tfjob="${esc(j.namespace)}/${esc(j.name)}">` +
    `<b>${esc(j.namespace)}/${esc(j.name)}</b> <span class="badge${j.state === "Failed" ? " bad" : ""}">${esc(j.state)}</span>` +
    Object.entries(j.replicas).map(([type, r]) =>
      `<div class="muted">${esc(type)}: ${r.active || 0} active, ${r.succeeded || 0} succeeded, ` +
      `${r.failed || 0} failed of ${r.want}</div>`).join("") + `</div>`).join("");
}

export function eventsHTML(events) {
  return events.map((e) => `<li><span class="${esc(e.type)}">${esc(e.reason)}</span> ` +
    `<b>${esc(e.object)}</b> ${esc(e.message)}${e.count > 1 ? ` (x${e.count})` : ""} ` +
    `<span class="muted">${esc((e.time || "").replace("T", " ").replace("Z", ""))}</span></li>`).join("");
}
