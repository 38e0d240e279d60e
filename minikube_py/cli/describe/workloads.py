"""Describing Pods, Deployments, ReplicaSets, DaemonSets and StatefulSets.

A Deployment's text names its ReplicaSets (new and old); a ReplicaSet's, DaemonSet's
and StatefulSet's count their pods by phase: found by LISTing with the owner's
selector and keeping the objects it controls (ownerReferences).
"""
from __future__ import annotations

import json
from datetime import datetime

from ...api.defaults import qos_class
from ...api.meta import parse_time
from ...api.selectors import LabelSelector
from .events import describe_events, events
from .podspec import containers, pod_template, volumes
from .text import (Writer, controller_text, labels, labels_and_annotations, multiline, name_lines,
                   optional_fields, selector_text, toleration_text, when, workload_conditions)


def describe_pod(c, w: Writer, pod: dict) -> None:
    md, spec, st = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    name_lines(w, md)
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    optional_fields(w, 0, spec, ("priorityClassName", "Priority Class Name"),
                    ("serviceAccountName", "Service Account"))
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node + '/' + st.get('hostIP', '') if node else '<none>'}\n")
    if st.get("startTime"):
        w.write(0, f"Start Time:\t{when(st['startTime'])}\n")
    labels_and_annotations(w, md)
    if md.get("deletionTimestamp") and st.get("phase") not in ("Succeeded", "Failed"):
        left = (parse_time(md["deletionTimestamp"]) - datetime.now(parse_time(md["deletionTimestamp"]).tzinfo))
        w.write(0, f"Status:\tTerminating (lasts {max(int(left.total_seconds()), 0)}s)\n")
        w.write(0, f"Termination Grace Period:\t{md.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        w.write(0, f"Status:\t{st.get('phase', '')}\n")
    optional_fields(w, 0, st, ("reason", "Reason"), ("message", "Message"))
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
    name_lines(w, md)
    w.write(0, f"CreationTimestamp:\t{when(md.get('creationTimestamp'))}\n")
    labels_and_annotations(w, md)
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
    workload_conditions(w, st.get("conditions"))
    new, old = new_and_old_replicasets(c, d)
    if new or old:  # kubectl leaves both lines out before the controller made any
        w.write(0, f"OldReplicaSets:\t{replicasets_text(old)}\n")
        w.write(0, f"NewReplicaSet:\t{replicasets_text(new)}\n")
    describe_events(w, events(c, d))


def describe_replicaset(c, w: Writer, rs: dict) -> None:
    md, spec, st = rs["metadata"], rs.get("spec") or {}, rs.get("status") or {}
    name_lines(w, md)
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    labels_and_annotations(w, md)
    if controller_text(rs):
        w.write(0, f"Controlled By:\t{controller_text(rs)}\n")
    w.write(0, f"Replicas:\t{st.get('replicas', 0)} current / {spec.get('replicas', 1)} desired\n")
    pods_status(c, w, rs)
    pod_template(w, spec.get("template"))
    workload_conditions(w, st.get("conditions"))
    describe_events(w, events(c, rs))


def pods_status(c, w: Writer, owner: dict) -> None:
    """``Pods Status: 3 Running / 0 Waiting / 0 Succeeded / 0 Failed`` of the pods it controls."""
    md, spec = owner["metadata"], owner.get("spec") or {}
    sel = LabelSelector.from_dict(spec.get("selector")).to_string()
    pods = [p for p in c.list_of("pods", md.get("namespace"), label_selector=sel or None)
            if any(r.get("uid") == md.get("uid") for r in p["metadata"].get("ownerReferences") or [])]
    phases = [(p.get("status") or {}).get("phase", "Pending") for p in pods]
    w.write(0, f"Pods Status:\t{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
               f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed\n")


def describe_daemonset(c, w: Writer, ds: dict) -> None:
    md, spec, st = ds["metadata"], ds.get("spec") or {}, ds.get("status") or {}
    w.write(0, f"Name:\t{md.get('name')}\n")
    w.write(0, f"Namespace:\t{md.get('namespace')}\n")
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    w.write(0, f"Node-Selector:\t{','.join(f'{k}={v}' for k, v in sorted(node_selector.items())) or '<none>'}\n")
    labels_and_annotations(w, md)
    w.write(0, f"Desired Number of Nodes Scheduled: {st.get('desiredNumberScheduled', 0)}\n")
    w.write(0, f"Current Number of Nodes Scheduled: {st.get('currentNumberScheduled', 0)}\n")
    w.write(0, f"Number of Nodes Scheduled with Up-to-date Pods: {st.get('updatedNumberScheduled', 0)}\n")
    w.write(0, f"Number of Nodes Scheduled with Available Pods: {st.get('numberAvailable', 0)}\n")
    w.write(0, f"Number of Nodes Misscheduled: {st.get('numberMisscheduled', 0)}\n")
    pods_status(c, w, ds)
    pod_template(w, spec.get("template"))
    describe_events(w, events(c, ds))


def describe_statefulset(c, w: Writer, sts: dict) -> None:
    md, spec, st = sts["metadata"], sts.get("spec") or {}, sts.get("status") or {}
    name_lines(w, md)
    w.write(0, f"CreationTimestamp:\t{when(md.get('creationTimestamp'))}\n")
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    labels_and_annotations(w, md)
    w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {st.get('replicas', 0)} total\n")
    strategy = spec.get("updateStrategy") or {}
    w.write(0, f"Update Strategy:\t{strategy.get('type', 'RollingUpdate')}\n")
    if (strategy.get("rollingUpdate") or {}).get("partition") is not None:
        w.write(1, f"Partition:\t{strategy['rollingUpdate']['partition']}\n")
    pods_status(c, w, sts)
    pod_template(w, spec.get("template"))
    claims = spec.get("volumeClaimTemplates") or []
    if not claims:
        w.write(0, "Volume Claims:\t<none>\n")
    else:
        w.write(0, "Volume Claims:\n")
        for claim in claims:
            cmd, cspec = claim.get("metadata") or {}, claim.get("spec") or {}
            w.write(1, f"Name:\t{cmd.get('name')}\n")
            w.write(1, f"StorageClass:\t{cspec.get('storageClassName') or ''}\n")
            labels(w, "  Labels", cmd.get("labels"))
            labels(w, "  Annotations", cmd.get("annotations"))
            capacity = ((cspec.get("resources") or {}).get("requests") or {}).get("storage")
            w.write(1, f"Capacity:\t{capacity or '<default>'}\n")
            w.write(1, f"Access Modes:\t[{' '.join(cspec.get('accessModes') or [])}]\n")
    describe_events(w, events(c, sts))
