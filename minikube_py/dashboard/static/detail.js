// The side panel of one pod: its YAML and events (GET /api/pods/ns/name) and its log,
// followed (an EventSource on /api/pods/ns/name/log, the apiserver's pods/log?follow=true).
let logSource = null;
let current = null;

const $ = (id) => document.getElementById(id);

function showTab(name) {
  for (const b of document.querySelectorAll("#detail nav button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const tab of ["yaml", "events", "logs"]) $(`detail-${tab}`).hidden = tab !== name;
  $("detail-container").hidden = name !== "logs";
  if (name === "logs") followLog();
}

function stopLog() {
  if (logSource) logSource.close();
  logSource = null;
}

function followLog() {
  stopLog();
  const out = $("detail-logs");
  out.textContent = "";
  const [ns, name] = current.key.split("/");
  const container = $("detail-container").value;
  const url = `/api/pods/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/log` +
    `?container=${encodeURIComponent(container)}`;
  logSource = new EventSource(url);
  logSource.onerror = async () => {
    if (!logSource || logSource.readyState !== EventSource.CLOSED) return;
    stopLog();                    // refused (403 without pods/log): show the apiserver's words
    const ctl = new AbortController();
    const resp = await fetch(url, { signal: ctl.signal });
    if (!resp.ok) out.append(`-- ${(await resp.json()).message || resp.statusText} --\n`);
    ctl.abort();
  };
  logSource.onmessage = (e) => {
    const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    out.append(e.data + "\n");
    if (atBottom) out.scrollTop = out.scrollHeight;
  };
  logSource.addEventListener("end", (e) => {
    out.append(`-- ${e.data} --\n`);
    stopLog();
  });
}

// GET the pod's YAML and events again: each click on YAML or Events shows them as they are now.
async function load() {
  const { key } = current;
  const [ns, name] = key.split("/");
  const resp = await fetch(`/api/pods/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
  const body = await resp.json();
  if (current?.key !== key) return null;      // another pod was opened meanwhile
  if (!resp.ok) {
    $("detail-yaml").textContent = body.message || resp.statusText;
    return null;
  }
  $("detail-yaml").textContent = body.yaml;
  $("detail-events").innerHTML = "";
  for (const e of body.events) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="${e.type === "Warning" ? "Warning" : ""}"></span> `;
    li.firstChild.textContent = e.reason;
    li.append(` ${e.message}${e.count > 1 ? ` (x${e.count})` : ""} — ${e.time}`);
    $("detail-events").append(li);
  }
  if (!body.events.length) $("detail-events").innerHTML = "<li>no events</li>";
  return body;
}

export async function openPod(key) {
  stopLog();
  current = { key };
  $("detail").hidden = false;
  $("detail-title").textContent = `pod ${key}`;
  $("detail-yaml").textContent = "loading ...";
  const body = await load();
  if (!body) return;
  $("detail-container").innerHTML = "";
  for (const c of body.containers) $("detail-container").append(new Option(c, c));
  showTab(document.querySelector("#detail nav button.active")?.dataset.tab || "yaml");
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("#detail nav button")) {
    b.onclick = () => {
      if (b.dataset.tab !== "logs" && current) load();
      showTab(b.dataset.tab);
    };
  }
  $("detail-container").onchange = followLog;
  $("detail-close").onclick = () => { stopLog(); $("detail").hidden = true; current = null; };
});
