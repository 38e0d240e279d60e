"""Describing a Node: its conditions, Lease, capacity, and the pods running on it
with how much of the node they asked for (kubectl's "Allocated resources").
"""
from __future__ import annotations

from ...api.quantity import parse_quantity
from .events import describe_events, events
from .text import (Writer, labels_and_annotations, multiline, quantity_text, resource_list, since, taint_text,
                   when)


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
    labels_and_annotations(w, md)
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
