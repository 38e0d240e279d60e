"""``mkctl describe``: an object, what it relates to, and its events, as text.

Unlike ``get``, describe is computed on the client (as in kubectl): it reads the
object, then asks for related things -- the pods of a ReplicaSet, the pods
running on a Node, the ReplicaSets of a Deployment -- and the Events whose
``involvedObject`` is this object.  The layout copies kubectl's describers
(k8s.io/kubectl/pkg/describe), so the output reads the same.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from fractions import Fraction

from ..api.defaults import qos_class
from ..api.meta import age, parse_time
from ..api.quantity import format_bytes, format_cpu_millis, parse_quantity
from ..api.selectors import LabelSelector
from .printers import LAST_APPLIED, TabWriter


class Writer:
    """kubectl's PrefixWriter: text indented by level (2 spaces each), aligned at tabs."""

    def __init__(self):
        self.done, self.tw = "", TabWriter(minwidth=0, padding=2)

    def write(self, level: int, text: str) -> None:
        self.tw.write("  " * level + text)

    def flush(self) -> None:
        self.done += self.tw.getvalue()
        self.tw = TabWriter(minwidth=0, padding=2)

    def getvalue(self) -> str:
        self.flush()
        return self.done


# ---------------------------------------------------------------- small formatters
def when(ts) -> str:
    """RFC 1123 with numeric zone, kubectl's describe time format, in local time."""
    if not ts:
        return "<unset>"
    return parse_time(ts).astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def since(ts) -> str:
    return age(ts) if ts else "<unknown>"


def multiline(w: Writer, title: str, values: list[str]) -> None:
    """``Title:  first`` then the rest aligned under it, or ``<none>``."""
    w.write(0, f"{title}:\t")
    if not values:
        w.write(0, "<none>\n")
        return
    for i, v in enumerate(values):
        w.write(0, ("\t" if i else "") + f"{v}\n")


def labels(w: Writer, title: str, items: dict | None) -> None:
    multiline(w, title, [f"{k}={v}" for k, v in sorted((items or {}).items())])


def annotations(w: Writer, title: str, items: dict | None) -> None:
    """Annotations, without the (long) last-applied manifest, as kubectl skips it."""
    shown = {k: v for k, v in (items or {}).items() if k != LAST_APPLIED}
    values = []
    for k, v in sorted(shown.items()):
        values.append(f"{k}: {v}" if len(v) <= 140 else f"{k}: {v[:140]}...")
    multiline(w, title, values)


def selector_text(sel) -> str:
    text = LabelSelector.from_dict(sel).to_string()
    return text or "<none>"


def controller_text(obj: dict) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref['kind']}/{ref['name']}"
    return ""


def toleration_text(t: dict) -> str:
    text = t.get("key", "")
    if t.get("value"):
        text += f"={t['value']}"
    if t.get("effect"):
        text += f":{t['effect']}"
    if t.get("operator") == "Exists" and not t.get("value"):
        text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
    if t.get("tolerationSeconds") is not None:
        text += f" for {t['tolerationSeconds']}s"
    return text


def taint_text(t: dict) -> str:
    return t["key"] + (f"={t['value']}" if t.get("value") else "") + f":{t.get('effect', '')}"


def quantity_text(resource: str, value) -> str:
    """A quantity in Kubernetes' canonical form: cpu in cores or millicores, bytes with Ki/Mi/Gi."""
    value = Fraction(value)
    if resource == "cpu":
        return format_cpu_millis(value)
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        return format_bytes(value)
    return str(value.numerator // value.denominator) if value.denominator == 1 else str(float(value))


def resource_list(w: Writer, level: int, amounts: dict) -> None:
    for name in sorted(amounts):
        w.write(level, f"{name}:\t{amounts[name]}\n")


# ---------------------------------------------------------------- pods and templates
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
        if t.get("reason"):
            w.write(3, f"Reason:\t{t['reason']}\n")
        if t.get("message"):
            w.write(3, f"Message:\t{t['message']}\n")
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


# ---------------------------------------------------------------- events
def events(c, obj: dict) -> list[dict]:
    """Events about this object: a field selector on involvedObject, as kubectl asks."""
    md = obj["metadata"]
    ns = md.get("namespace", "")
    uids = [md.get("uid", "")] + ([md["name"]] if obj.get("kind") == "Node" else [])
    found = []
    for uid in uids:  # the kubelet names a Node's events by the node's name, not its uid
        fsel = (f"involvedObject.name={md['name']},involvedObject.namespace={ns},"
                f"involvedObject.uid={uid}")
        found += c.list_of("events", ns or None, field_selector=fsel)
    return sorted(found, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def describe_events(w: Writer, items: list[dict]) -> None:
    if not items:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()   # the events table is aligned on its own
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in items:
        first = since(e.get("eventTime") or e.get("firstTimestamp"))
        series = e.get("series")
        if series:
            interval = f"{since(series.get('lastObservedTime'))} (x{series.get('count')} over {first})"
        elif int(e.get("count") or 1) > 1:
            interval = f"{since(e.get('lastTimestamp'))} (x{e['count']} over {first})"
        else:
            interval = first
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t"
                   f"{(e.get('message') or '').strip()}\n")


# ---------------------------------------------------------------- describers
def describe_pod(c, w: Writer, pod: dict) -> None:
    md, spec, st = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    w.write(0, f"Name:\t{md['name']}\n")
    w.write(0, f"Namespace:\t{md.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node + '/' + st.get('hostIP', '') if node else '<none>'}\n")
    if st.get("startTime"):
        w.write(0, f"Start Time:\t{when(st['startTime'])}\n")
    labels(w, "Labels", md.get("labels"))
    annotations(w, "Annotations", md.get("annotations"))
    if md.get("deletionTimestamp") and st.get("phase") not in ("Succeeded", "Failed"):
        left = (parse_time(md["deletionTimestamp"]) - datetime.now(parse_time(md["deletionTimestamp"]).tzinfo))
        w.write(0, f"Status:\tTerminating (lasts {max(int(left.total_seconds()), 0)}s)\n")
        w.write(0, f"Termination Grace Period:\t{md.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        w.write(0, f"Status:\t{st.get('phase', '')}\n")
    if st.get("reason"):
        w.write(0, f"Reason:\t{st['reason']}\n")
    if st.get("message"):
        w.write(0, f"Message:\t{st['message']}\n")
    w.write(0, f"IP:\t{st.get('podIP', '')}\n")
    ips = [ip.get("ip") for ip in st.get("podIPs") or []]
    if ips:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(1, f"IP:\t{ip}\n")
    else:
        w.write(0, "IPs:\t<none>\n")
    if controller_text(pod):
        w.write(0, f"Controlled By:\t{controller_text(pod)}\n")
    if st.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{st['nominatedNodeName']}\n")
    if spec.get("initContainers"):
        containers(w, "Init Containers", spec["initContainers"], st.get("initContainerStatuses"))
    containers(w, "Containers", spec.get("containers") or [], st.get("containerStatuses") or [])
    if st.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for cond in st["conditions"]:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')} \n")
    volumes(w, spec.get("volumes") or [])
    w.write(0, f"QoS Class:\t{st.get('qosClass') or qos_class(spec)}\n")
    labels(w, "Node-Selectors", spec.get("nodeSelector"))
    multiline(w, "Tolerations", [toleration_text(t) for t in spec.get("tolerations") or []])
    describe_events(w, events(c, pod))


def new_and_old_replicasets(c, d: dict) -> tuple[list, list]:
    """The Deployment's ReplicaSets: the one whose template is the Deployment's (new)
    and the older ones that still have pods."""
    uid = d["metadata"].get("uid")
    sel = LabelSelector.from_dict((d.get("spec") or {}).get("selector")).to_string()
    owned = [rs for rs in c.list_of("replicasets", d["metadata"].get("namespace"), label_selector=sel or None)
             if any(r.get("uid") == uid and r.get("controller")
                    for r in rs["metadata"].get("ownerReferences") or [])]

    def template(obj):
        t = json.loads(json.dumps((obj.get("spec") or {}).get("template") or {}))
        ((t.get("metadata") or {}).get("labels") or {}).pop("pod-template-hash", None)
        return t

    new = [rs for rs in owned if template(rs) == template(d)][:1]
    old = [rs for rs in owned if rs not in new and (rs.get("spec") or {}).get("replicas", 0)]
    return new, old


def replicasets_text(items: list) -> str:
    return ", ".join(f"{rs['metadata']['name']} ({(rs.get('status') or {}).get('replicas', 0)}/"
                     f"{(rs.get('spec') or {}).get('replicas', 0)} replicas created)" for rs in items) or "<none>"


def describe_deployment(c, w: Writer, d: dict) -> None:
    md, spec, st = d["metadata"], d.get("spec") or {}, d.get("status") or {}
    w.write(0, f"Name:\t{md['name']}\n")
    w.write(0, f"Namespace:\t{md.get('namespace', '')}\n")
    w.write(0, f"CreationTimestamp:\t{when(md.get('creationTimestamp'))}\n")
    labels(w, "Labels", md.get("labels"))
    annotations(w, "Annotations", md.get("annotations"))
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {st.get('updatedReplicas', 0)} updated | "
               f"{st.get('replicas', 0)} total | {st.get('availableReplicas', 0)} available | "
               f"{st.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type', 'RollingUpdate')}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    if strategy.get("rollingUpdate") is not None:
        ru = strategy["rollingUpdate"]
        w.write(0, f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', '25%')} max unavailable, "
                   f"{ru.get('maxSurge', '25%')} max surge\n")
    pod_template(w, spec.get("template"))
    if st.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for cond in st["conditions"]:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')}\t{cond.get('reason', '')}\n")
    new, old = new_and_old_replicasets(c, d)
    if new or old:  # kubectl leaves both lines out before the controller made any
        w.write(0, f"OldReplicaSets:\t{replicasets_text(old)}\n")
        w.write(0, f"NewReplicaSet:\t{replicasets_text(new)}\n")
    describe_events(w, events(c, d))


def describe_replicaset(c, w: Writer, rs: dict) -> None:
    md, spec, st = rs["metadata"], rs.get("spec") or {}, rs.get("status") or {}
    w.write(0, f"Name:\t{md['name']}\n")
    w.write(0, f"Namespace:\t{md.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    labels(w, "Labels", md.get("labels"))
    annotations(w, "Annotations", md.get("annotations"))
    if controller_text(rs):
        w.write(0, f"Controlled By:\t{controller_text(rs)}\n")
    w.write(0, f"Replicas:\t{st.get('replicas', 0)} current / {spec.get('replicas', 1)} desired\n")
    sel = LabelSelector.from_dict(spec.get("selector")).to_string()
    pods = [p for p in c.list_of("pods", md.get("namespace"), label_selector=sel or None)
            if any(r.get("uid") == md.get("uid") for r in p["metadata"].get("ownerReferences") or [])]
    phases = [(p.get("status") or {}).get("phase", "Pending") for p in pods]
    w.write(0, f"Pods Status:\t{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
               f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed\n")
    pod_template(w, spec.get("template"))
    if st.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for cond in st["conditions"]:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')}\t{cond.get('reason', '')}\n")
    describe_events(w, events(c, rs))


def pod_requests_and_limits(pod: dict) -> tuple[dict, dict]:
    """What a pod asks for: the sum over its containers, at least any init container's
    (init containers run one at a time, before the others)."""
    spec = pod.get("spec") or {}
    totals: tuple[dict, dict] = ({}, {})
    for c in spec.get("containers") or []:
        for i, key in enumerate(("requests", "limits")):
            for name, q in ((c.get("resources") or {}).get(key) or {}).items():
                totals[i][name] = totals[i].get(name, 0) + parse_quantity(q)
    for c in spec.get("initContainers") or []:
        for i, key in enumerate(("requests", "limits")):
            for name, q in ((c.get("resources") or {}).get(key) or {}).items():
                totals[i][name] = max(totals[i].get(name, 0), parse_quantity(q))
    for name, q in (spec.get("overhead") or {}).items():
        for i in (0, 1):
            if name in totals[i]:
                totals[i][name] += parse_quantity(q)
    return totals


def _percent(amount, total) -> int:
    return int(amount * 100 / total) if total else 0


STANDARD = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}


def describe_node(c, w: Writer, node: dict) -> None:
    md, spec, st = node["metadata"], node.get("spec") or {}, node.get("status") or {}
    w.write(0, f"Name:\t{md['name']}\n")
    roles = sorted(k.split("/", 1)[1] for k in md.get("labels") or {} if k.startswith("node-role.kubernetes.io/"))
    w.write(0, f"Roles:\t{','.join(roles) or '<none>'}\n")
    labels(w, "Labels", md.get("labels"))
    annotations(w, "Annotations", md.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{when(md.get('creationTimestamp'))}\n")
    multiline(w, "Taints", [taint_text(t) for t in spec.get("taints") or []])
    w.write(0, f"Unschedulable:\t{str(bool(spec.get('unschedulable'))).lower()}\n")
    try:
        lease = c.get(c.resolve_one("leases"), md["name"], "kube-node-lease")
    except Exception as err:  # no Lease yet (no kubelet has renewed one), or no leases API
        w.write(0, f"Lease:\tFailed to get lease: {getattr(err, 'message', err)}\n")
    else:
        ls = lease.get("spec") or {}
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{ls.get('holderIdentity') or '<unset>'}\n")
        w.write(1, f"AcquireTime:\t{when(ls.get('acquireTime'))}\n")
        w.write(1, f"RenewTime:\t{when(ls.get('renewTime'))}\n")
    if st.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for cond in st["conditions"]:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')} \t{when(cond.get('lastHeartbeatTime'))} \t"
                       f"{when(cond.get('lastTransitionTime'))} \t{cond.get('reason', '')} \t"
                       f"{cond.get('message', '')}\n")
    w.write(0, "Addresses:\n")
    for a in st.get("addresses") or []:
        w.write(1, f"{a.get('type')}:\t{a.get('address')}\n")
    for title in ("capacity", "allocatable"):
        if st.get(title):
            w.write(0, f"{title.capitalize()}:\n")
            resource_list(w, 1, st[title])
    info = st.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for key, title in (("machineID", "Machine ID"), ("systemUUID", "System UUID"), ("bootID", "Boot ID"),
                       ("kernelVersion", "Kernel Version"), ("osImage", "OS Image"),
                       ("operatingSystem", "Operating System"), ("architecture", "Architecture"),
                       ("containerRuntimeVersion", "Container Runtime Version"),
                       ("kubeletVersion", "Kubelet Version"), ("kubeProxyVersion", "Kube-Proxy Version")):
        w.write(1, f"{title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")

    # What runs here, and how much of the node it has asked for.
    pods = c.list_of("pods", None, field_selector=f"spec.nodeName={md['name']},"
                                                  "status.phase!=Succeeded,status.phase!=Failed")
    alloc = {k: parse_quantity(v) for k, v in (st.get("allocatable") or st.get("capacity") or {}).items()}
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    total_req: dict = {}
    total_lim: dict = {}
    for pod in pods:
        req, lim = pod_requests_and_limits(pod)
        for name, q in req.items():
            total_req[name] = total_req.get(name, 0) + q
        for name, q in lim.items():
            total_lim[name] = total_lim.get(name, 0) + q
        cells = [f"{quantity_text(r, amounts.get(r, 0))} ({_percent(amounts.get(r, 0), alloc.get(r, 0))}%)"
                 for r in ("cpu", "memory") for amounts in (req, lim)]
        w.write(1, f"{pod['metadata'].get('namespace')}\t{pod['metadata']['name']}\t\t" + "\t".join(cells)
                + f"\t{since(pod['metadata'].get('creationTimestamp'))}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for r in ["cpu", "memory", "ephemeral-storage"] + sorted(k for k in alloc if k.startswith("hugepages-")):
        req, lim = total_req.get(r, 0), total_lim.get(r, 0)
        w.write(1, f"{r}\t{quantity_text(r, req)} ({_percent(req, alloc.get(r, 0))}%)\t"
                   f"{quantity_text(r, lim)} ({_percent(lim, alloc.get(r, 0))}%)\n")
    for r in sorted(k for k in alloc if k not in STANDARD and not k.startswith("hugepages-")):
        # extended resources (nvidia.com/gpu, ...) are whole devices: no percentages
        w.write(1, f"{r}\t{quantity_text(r, total_req.get(r, 0))}\t{quantity_text(r, total_lim.get(r, 0))}\n")
    describe_events(w, events(c, node))


def describe_namespace(c, w: Writer, ns: dict) -> None:
    md = ns["metadata"]
    w.write(0, f"Name:\t{md['name']}\n")
    labels(w, "Labels", md.get("labels"))
    annotations(w, "Annotations", md.get("annotations"))
    w.write(0, f"Status:\t{(ns.get('status') or {}).get('phase', 'Active')}\n")
    try:
        c.resolve_one("resourcequotas")
    except Exception:
        return  # this server has no quotas: nothing more to say
    quotas = c.list_of("resourcequotas", md["name"])
    if not quotas:
        w.write(0, "\nNo resource quota.\n")
    for q in quotas:
        w.flush()
        w.write(0, f"\nResource Quotas\n  Name:\t{q['metadata']['name']}\n  Resource\tUsed\tHard\n  --------\t---\t---\n")
        hard, used = (q.get("status") or {}).get("hard") or (q.get("spec") or {}).get("hard") or {}, \
            (q.get("status") or {}).get("used") or {}
        for r in sorted(hard):
            w.write(1, f"{r}\t{used.get(r, '0')}\t{hard[r]}\n")


def label_for(field: str) -> str:
    """``apiVersion`` -> ``API Version``, ``nodeName`` -> ``Node Name`` (kubectl's smartLabelFor)."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+|[A-Z]+", field) or [field]
    special = {"api": "API", "url": "URL", "uid": "UID", "ip": "IP", "id": "ID", "cpu": "CPU", "gpu": "GPU"}
    return " ".join(special.get(w.lower(), w[0].upper() + w[1:]) for w in words)


def generic_content(w: Writer, level: int, content: dict, path: str, skip: set) -> None:
    for field in sorted(content):
        value, here = content[field], f"{path}.{field}"
        if here in skip:
            continue
        if isinstance(value, dict):
            w.write(level, f"{label_for(field)}:\n")
            generic_content(w, level + 1, value, here, skip)
        elif isinstance(value, list):
            w.write(level, f"{label_for(field)}:\n")
            for item in value:
                if isinstance(item, dict):
                    generic_content(w, level + 1, item, here, skip)
                else:
                    w.write(level + 1, f"{item}\n")
        else:
            text = "true" if value is True else "false" if value is False else value
            w.write(level, f"{label_for(field)}:\t{text}\n")


def describe_generic(c, w: Writer, obj: dict) -> None:
    """Any other kind: its fields as an indented ``Key: value`` outline."""
    md = obj.get("metadata") or {}
    w.write(0, f"Name:\t{md.get('name', '')}\n")
    w.write(0, f"Namespace:\t{md.get('namespace', '')}\n")
    labels(w, "Labels", md.get("labels"))
    annotations(w, "Annotations", md.get("annotations"))
    generic_content(w, 0, obj, "", {".metadata.name", ".metadata.namespace", ".metadata.labels",
                                    ".metadata.annotations", ".metadata.managedFields"})
    describe_events(w, events(c, obj))


DESCRIBERS = {"Pod": describe_pod, "Deployment": describe_deployment, "ReplicaSet": describe_replicaset,
              "Node": describe_node, "Namespace": describe_namespace}


def describe_object(c, res, obj: dict) -> str:
    """The describe text of one object (``c`` is mkctl's Cluster, for related lookups)."""
    w = Writer()
    DESCRIBERS.get(res.kind, describe_generic)(c, w, obj)
    return w.getvalue()
