"""One replica of a TFJob: its pod and its headless Service, both named ``{job}-{type}-{index}``.

What the operator's createNewPod / CreateNewService make:

- the **pod**, from the replica type's template, with the labels
  ``training.kubeflow.org/{operator-name, job-name, replica-type, replica-index}`` (and
  ``job-role: master`` on the replica whose success is the job's: chief/master, or worker 0
  when there is none), TF_CONFIG in the container named ``tensorflow``, the pod's
  restartPolicy from the replica's (ExitCode becomes Never: the *operator* restarts
  such pods, by deleting them), and an ownerReference to the TFJob with controller=true.
- the **Service**: headless (clusterIP None), selecting exactly that pod by its labels,
  with the tensorflow container's named ports, so ``{job}-{type}-{index}.{ns}.svc``
  resolves to the pod's IP -- the address TF_CONFIG gives the other replicas.

Which pods and services exist is read from the informers by ``slices``: the objects of
one replica type grouped by their replica-index label.
"""
from __future__ import annotations

import copy

from ...controllers.refmanager import controller_ref
from .spec import (DEFAULT_CONTAINER, JOB_ROLE_LABEL, REPLICA_INDEX_LABEL, REPLICA_TYPE_LABEL,
                   is_master_role, replica_labels, replica_name, ports_of)
from .tfconfig import ENV_NAME, tf_config


def new_pod(job: dict, rtype: str, index: int) -> dict:
    """The pod of replica ``index`` of ``rtype`` (job already defaulted)."""
    rspec = job["spec"]["tfReplicaSpecs"][rtype]
    template = copy.deepcopy(rspec.get("template") or {})
    tmeta = template.get("metadata") or {}
    name = job["metadata"]["name"]
    labels = dict(tmeta.get("labels") or {}, **replica_labels(name, rtype, index))
    if is_master_role(job, rtype, index):
        labels[JOB_ROLE_LABEL] = "master"
    md = {"name": replica_name(name, rtype, index), "namespace": job["metadata"]["namespace"],
          "labels": labels, "ownerReferences": [controller_ref(job)]}
    if tmeta.get("annotations"):
        md["annotations"] = tmeta["annotations"]
    pod_spec = template.get("spec") or {}
    config = tf_config(job, rtype, index)
    if config is not None:
        for container in pod_spec.get("containers") or []:
            if container.get("name") == DEFAULT_CONTAINER:
                container["env"] = list(container.get("env") or []) + [{"name": ENV_NAME, "value": config}]
                break
    policy = rspec.get("restartPolicy")
    pod_spec["restartPolicy"] = "Never" if policy == "ExitCode" else policy
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": pod_spec}


def new_service(job: dict, rtype: str, index: int) -> dict:
    """The headless Service in front of replica ``index`` of ``rtype``."""
    name = job["metadata"]["name"]
    labels = replica_labels(name, rtype, index)
    ports = ports_of(job["spec"]["tfReplicaSpecs"][rtype])
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": replica_name(name, rtype, index), "namespace": job["metadata"]["namespace"],
                         "labels": labels, "ownerReferences": [controller_ref(job)]},
            "spec": {"clusterIP": "None", "selector": dict(labels),
                     "ports": [{"name": n, "port": p} for n, p in sorted(ports.items())]}}


def slices(objects: list, rtype: str, replicas: int) -> list:
    """[[objects of index 0], [... index 1], ...] for one replica type; at least
    ``replicas`` slots, more when an object carries a higher index (scaled down)."""
    mine = [o for o in objects if ((o.get("metadata") or {}).get("labels") or {}).get(REPLICA_TYPE_LABEL)
            == rtype.lower()]
    indexed = []
    for obj in mine:
        try:
            indexed.append((int(obj["metadata"]["labels"][REPLICA_INDEX_LABEL]), obj))
        except (KeyError, ValueError):
            continue
    size = max([replicas] + [i + 1 for i, _ in indexed])
    out = [[] for _ in range(size)]
    for i, obj in indexed:
        if i >= 0:
            out[i].append(obj)
    return out
