"""TF_CONFIG: how each TensorFlow process of a TFJob learns the cluster and its own place in it.

TensorFlow's distribution strategies (MultiWorkerMirroredStrategy, ParameterServerStrategy)
read the environment variable TF_CONFIG::

    {"cluster":{"ps":["mnist-ps-0.default.svc:2222"],
                "worker":["mnist-worker-0.default.svc:2222","mnist-worker-1.default.svc:2222"]},
     "task":{"type":"worker","index":1},"environment":"cloud"}

The training operator writes it exactly so (genTFConfigJSONStr, genClusterSpec): one
address per replica, ``{job}-{type}-{index}.{namespace}.svc:{port}`` -- the DNS name of
the replica's headless Service, without the cluster domain (the pods' resolv.conf search
list completes it), unless the operator's environment sets CUSTOM_CLUSTER_DOMAIN
(e.g. ``cluster.local``), which is then appended. Types are in lower case, the JSON is
compact with the cluster's types sorted (Go's encoding/json), and "environment" is
"cloud" (read by TensorFlow <= 1.3; the operator still writes it). With
``enableDynamicWorker`` the operator writes the sparse form instead: a worker knows the
PS and itself only (``"worker": {"1": "..."}``), a PS only itself.

Only a distributed job gets TF_CONFIG: one with a single replica in all trains locally.
"""
from __future__ import annotations

import json
import os
from typing import Optional

from .spec import PS, WORKER, is_distributed, port_of, replica_name, replica_specs

CLUSTER_DOMAIN_ENV = "CUSTOM_CLUSTER_DOMAIN"
ENV_NAME = "TF_CONFIG"


def cluster_spec(job: dict, cluster_domain: Optional[str] = None) -> dict:
    """{type (lower case): [host:port of each replica]} of a defaulted TFJob."""
    if cluster_domain is None:
        cluster_domain = os.environ.get(CLUSTER_DOMAIN_ENV, "")
    name, namespace = job["metadata"]["name"], job["metadata"].get("namespace", "default")
    cluster = {}
    for rtype, rspec in replica_specs(job).items():
        port = port_of(job, rtype)
        hosts = []
        for index in range(int(rspec.get("replicas", 1))):
            host = f"{replica_name(name, rtype, index)}.{namespace}.svc"
            if cluster_domain:
                host += f".{cluster_domain}"
            hosts.append(f"{host}:{port}")
        cluster[rtype.lower()] = hosts
    return cluster


def tf_config(job: dict, rtype: str, index: int, cluster_domain: Optional[str] = None) -> Optional[str]:
    """The TF_CONFIG value for one replica, or None for a job that is not distributed."""
    if not is_distributed(job):
        return None
    cluster = cluster_spec(job, cluster_domain)
    task = {"type": rtype.lower(), "index": index}
    if (job.get("spec") or {}).get("enableDynamicWorker"):
        sparse = {"worker": {}, "ps": []}
        if rtype == PS:
            sparse["ps"] = [cluster["ps"][index]]
        elif rtype == WORKER:
            sparse["ps"] = cluster.get("ps") or []
            sparse["worker"] = {str(index): cluster["worker"][index]}
        return _go_json({"cluster": sparse, "task": task})
    return _go_json({"cluster": dict(sorted(cluster.items())), "task": task, "environment": "cloud"})


def _go_json(value: dict) -> str:
    """JSON as Go's encoding/json writes it: no spaces, fields in declaration order."""
    return json.dumps(value, separators=(",", ":"))
