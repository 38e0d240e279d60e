"""The pod spec sections of describe: containers (with their status for a pod),
volumes, and a workload's Pod Template, as kubectl prints them.
"""
from __future__ import annotations

import json

from .text import Writer, annotations, labels, multiline, optional_fields, resource_list, toleration_text, when


def probe_text(p: dict) -> str:
    if "exec" in p:
        what = f"exec [{' '.join(p['exec'].get('command') or [])}]"
    elif "httpGet" in p:
        h = p["httpGet"]
        what = f"http-get {h.get('scheme', 'HTTP').lower()}://{h.get('host', '')}:{h.get('port')}{h.get('path', '')}"
    elif "tcpSocket" in p:
        what = f"tcp-socket {p['tcpSocket'].get('host', '')}:{p['tcpSocket'].get('port')}"
    elif "grpc" in p:
        what = f"grpc <pod>:{p['grpc'].get('port')} {p['grpc'].get('service', '')}"
    else:
        what = "unknown"
    return (f"{what} delay={p.get('initialDelaySeconds', 0)}s timeout={p.get('timeoutSeconds', 1)}s "
            f"period={p.get('periodSeconds', 10)}s #success={p.get('successThreshold', 1)} "
            f"#failure={p.get('failureThreshold', 3)}")


def container_state(w: Writer, title: str, state: dict) -> None:
    if "running" in state:
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{when(state['running'].get('startedAt'))}\n")
    elif "terminated" in state:
        t = state["terminated"]
        w.write(2, f"{title}:\tTerminated\n")
        optional_fields(w, 3, t, ("reason", "Reason"), ("message", "Message"))
        w.write(3, f"Exit Code:\t{t.get('exitCode', 0)}\n")
        if t.get("signal"):
            w.write(3, f"Signal:\t{t['signal']}\n")
        w.write(3, f"Started:\t{when(t.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{when(t.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")
        if (state.get("waiting") or {}).get("reason"):
            w.write(3, f"Reason:\t{state['waiting']['reason']}\n")


def containers(w: Writer, title: str, items: list, statuses: list | None, space: str = "") -> None:
    """The Containers section (with status for a pod, without for a template)."""
    by_name = {s.get("name"): s for s in statuses or []}
    w.write(0, f"{space}{title}:{' <none>' if not items else ''}\n")
    for c in items:
        st = by_name.get(c.get("name"))
        w.write(1, f"{' ' if space else ''}{c.get('name')}:\n")
        if st is not None:
            w.write(2, f"Container ID:\t{st.get('containerID', '')}\n")
        w.write(2, f"Image:\t{c.get('image', '')}\n")
        if st is not None:
            w.write(2, f"Image ID:\t{st.get('imageID', '')}\n")
        ports = c.get("ports") or []
        port = ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"
        host = ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"
        w.write(2, f"{'Ports' if ',' in port else 'Port'}:\t{port}\n")
        w.write(2, f"{'Host Ports' if ',' in host else 'Host Port'}:\t{host}\n")
        for key, heading in (("command", "Command"), ("args", "Args")):
            if c.get(key):
                w.write(2, f"{heading}:\n")
                for part in c[key]:
                    for line in str(part).split("\n"):
                        w.write(3, f"{line}\n")
        if st is not None:
            container_state(w, "State", st.get("state") or {})
            if (st.get("lastState") or {}).get("terminated"):
                container_state(w, "Last State", st["lastState"])
            w.write(2, f"Ready:\t{'True' if st.get('ready') else 'False'}\n")
            w.write(2, f"Restart Count:\t{st.get('restartCount', 0)}\n")
        res = c.get("resources") or {}
        for key, heading in (("limits", "Limits"), ("requests", "Requests")):
            if res.get(key):
                w.write(2, f"{heading}:\n")
                resource_list(w, 3, res[key])
        for key, heading in (("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"),
                             ("startupProbe", "Startup")):
            if c.get(key):
                w.write(2, f"{heading}:\t{probe_text(c[key])}\n")
        env = c.get("env") or []
        w.write(2, "Environment:" + ("\t<none>\n" if not env else "\n"))
        for e in env:
            if "valueFrom" not in e:
                for i, line in enumerate(str(e.get("value", "")).split("\n")):
                    w.write(3, f"{e['name']}:\t{line}\n" if i == 0 else f"\t{line}\n")
                continue
            src = e["valueFrom"]
            if "fieldRef" in src:
                f = src["fieldRef"]
                w.write(3, f"{e['name']}:\t ({f.get('apiVersion', 'v1')}:{f.get('fieldPath')})\n")
            elif "secretKeyRef" in src:
                r = src["secretKeyRef"]
                w.write(3, f"{e['name']}:\t<set to the key '{r.get('key')}' in secret '{r.get('name')}'>\t"
                           f"Optional: {str(bool(r.get('optional'))).lower()}\n")
            elif "configMapKeyRef" in src:
                r = src["configMapKeyRef"]
                w.write(3, f"{e['name']}:\t<set to the key '{r.get('key')}' of config map '{r.get('name')}'>\t"
                           f"Optional: {str(bool(r.get('optional'))).lower()}\n")
            else:
                w.write(3, f"{e['name']}:\t{json.dumps(src)}\n")
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: m.get("mountPath", ""))
        w.write(2, "Mounts:" + ("\t<none>\n" if not mounts else "\n"))
        for m in mounts:
            flags = ["ro" if m.get("readOnly") else "rw"] + ([f'path="{m["subPath"]}"'] if m.get("subPath") else [])
            w.write(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})\n")


# How kubectl describes the common volume types: a title and the fields it shows.
VOLUME_TYPES = {
    "emptyDir": ("EmptyDir (a temporary directory that shares a pod's lifetime)",
                 [("Medium", "medium", ""), ("SizeLimit", "sizeLimit", "<unset>")]),
    "hostPath": ("HostPath (bare host directory volume)", [("Path", "path", ""), ("HostPathType", "type", "")]),
    "configMap": ("ConfigMap (a volume populated by a ConfigMap)",
                  [("Name", "name", ""), ("Optional", "optional", "false")]),
    "secret": ("Secret (a volume populated by a Secret)",
               [("SecretName", "secretName", ""), ("Optional", "optional", "false")]),
    "persistentVolumeClaim": ("PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
                              "namespace)", [("ClaimName", "claimName", ""), ("ReadOnly", "readOnly", "false")]),
}


def volumes(w: Writer, items: list, space: str = "") -> None:
    if not items:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    for v in items:
        w.write(1, f"{' ' if space else ''}{v.get('name')}:\n")
        kind = next((k for k in v if k != "name"), None)
        source = v.get(kind) or {}
        if kind in VOLUME_TYPES:
            title, fields = VOLUME_TYPES[kind]
        elif kind:   # any other type: its name and its fields as they are
            title, fields = kind[0].upper() + kind[1:], [(k[0].upper() + k[1:], k, "") for k in sorted(source)]
        else:
            w.write(2, "<unknown>\n")
            continue
        w.write(2, f"Type:\t{title}\n")
        for heading, key, default in fields:
            value = source.get(key, default)
            w.write(2, f"{heading}:\t{str(value).lower() if isinstance(value, bool) else value}\n")


def pod_template(w: Writer, template: dict | None) -> None:
    w.write(0, "Pod Template:\n")
    if not template:
        w.write(1, "<unset>")
        return
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    labels(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations(w, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        containers(w, "Init Containers", spec["initContainers"], None, "  ")
    containers(w, "Containers", spec.get("containers") or [], None, "  ")
    volumes(w, spec.get("volumes") or [], "  ")
    if spec.get("priorityClassName"):
        w.write(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels(w, "  Node-Selectors", spec.get("nodeSelector"))
    multiline(w, "  Tolerations", [toleration_text(t) for t in spec.get("tolerations") or []])
