"""The kubelet's settings (the command-line flags), in one place."""
from __future__ import annotations

import os
from dataclasses import dataclass, field


def default_state_dir(node_name: str) -> str:
    """Where a node keeps pod volumes and the device checkpoint (as /var/lib/kubelet)."""
    return os.path.join(os.path.expanduser("~/.minikube-py"), "kubelet", node_name)


@dataclass
class KubeletConfig:
    node_name: str
    state_dir: str = ""
    address: str = "127.0.0.1"          # the node's InternalIP, and where the server listens
    port: int = 0                       # kubelet HTTP server; 0 = any free port
    cpu: str | None = None              # capacity overrides (None: read from the host)
    memory: str | None = None
    pods: str | None = None
    labels: dict = field(default_factory=dict)
    taints: list = field(default_factory=list)
    lease_seconds: float = 10.0         # Lease renew interval (duration: 4x)
    status_update_seconds: float = 10.0  # how often NodeStatus is recomputed
    status_report_seconds: float = 300.0  # ... and posted even when unchanged (nodeStatusReportFrequency)
    sync_frequency: float = 60.0        # periodic re-sync of every pod
    object_cache_ttl: float = 5.0       # ConfigMaps/Secrets are re-read after this long
    relist_seconds: float = 1.0         # PLEG relist period
    housekeeping_seconds: float = 2.0   # orphan clean-up period
    backoff_seconds: float = 10.0       # crash back-off: first delay ...
    backoff_max_seconds: float = 300.0  # ... doubling up to this
    device_plugin_dir: str | None = None
    gpu_mode: str = "runtime"           # runtime (runtime=nvidia) | device-requests

    def __post_init__(self):
        if not self.state_dir:
            self.state_dir = default_state_dir(self.node_name)
        self.state_dir = os.path.abspath(os.path.expanduser(self.state_dir))
