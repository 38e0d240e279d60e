"""The controller manager's settings that controllers read at run time (``self.config``).

Every controller starts with the defaults; the manager gives each one its own
(``--node-monitor-grace-period`` and the like).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class ControllerConfig:
    """Settings that controllers read from ``self.config`` (set by the manager).

    Defaults are Kubernetes' defaults; labs shorten them to see a node fail in seconds.
    """
    node_monitor_grace_period: float = 40.0   # lease not renewed this long -> Ready=Unknown
    node_monitor_period: float = 5.0          # how often node health is checked
    pod_eviction_timeout: float = 300.0       # toleration for not-ready/unreachable taints
    #                                           when a pod has none
    force_delete_unreachable_pods: bool = True  # see nodelifecycle.py, "Pods on a lost node"
    gc_discovery_period: float = 30.0         # how often the GC re-reads discovery
    job_pod_failure_backoff: float = 10.0     # a Job's first wait before replacing a failed pod
    #                                           (doubles per failure, at most 6 min)
    resource_quota_sync_period: float = 300.0  # how often every quota is recounted in full
    workers: Optional[int] = None             # worker threads per controller (None: its own)
    local_path_dir: Optional[str] = None      # where the local-path provisioner makes volumes
    #                                           (None: it provisions nothing)
    root_ca_file: Optional[str] = None        # the CA published as kube-root-ca.crt
    #                                           (None: the one the kubeconfig trusts)
