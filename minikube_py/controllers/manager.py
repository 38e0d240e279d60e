"""The controller manager: many controllers, one process, one set of informers.

kube-controller-manager is one binary running some thirty controllers. They share
informers (one watch on pods serves the ReplicaSet controller, the garbage collector
and the node lifecycle controller alike) and they run only while this process leads
(see command.py). This module knows which controllers exist, picks the ones asked
for with ``--controllers``, builds them and starts them:

    informers = SharedInformers(client)
    controllers = [Cls(client, informers) for each selected controller]   # register handlers
    informers.start(); informers.wait_for_sync()                          # fill the caches
    controller.run(stop) for each                                         # start the workers

Controllers are found by name in ``CONTROLLERS`` ("module:Class") and imported only
when selected, so a controller whose module does not exist yet is reported and
skipped instead of breaking the others.
"""
from __future__ import annotations

import importlib
import logging
import threading
from typing import Optional

from .base import SharedInformers
from .config import ControllerConfig

log = logging.getLogger(__name__)

# name (as in kube-controller-manager's --controllers) -> "module:Class".
# Adding a controller to minikube-py is adding a line here.
CONTROLLERS: dict[str, str] = {
    "garbagecollector": "minikube_py.controllers.garbagecollector:GarbageCollector",
    "namespace": "minikube_py.controllers.namespace:NamespaceController",
    "nodelifecycle": "minikube_py.controllers.nodelifecycle:NodeLifecycleController",
    "replicaset": "minikube_py.controllers.replicaset:ReplicaSetController",
    "replicationcontroller": "minikube_py.controllers.replicationcontroller:ReplicationManager",
    "deployment": "minikube_py.controllers.deployment:DeploymentController",
    "serviceaccount": "minikube_py.controllers.serviceaccount:ServiceAccountsController",
    "root-ca-cert-publisher": "minikube_py.controllers.rootcacertpublisher:RootCACertPublisher",
    "endpoints": "minikube_py.controllers.endpoints:EndpointsController",
    "endpointslice": "minikube_py.controllers.endpointslice:EndpointSliceController",
    "job": "minikube_py.controllers.job:JobController",
    "cronjob": "minikube_py.controllers.cronjob:CronJobController",
    "ttl-after-finished": "minikube_py.controllers.ttlafterfinished:TTLAfterFinishedController",
    "disruption": "minikube_py.controllers.disruption:DisruptionController",
    "daemonset": "minikube_py.controllers.daemonset:DaemonSetController",
    "persistentvolume-binder": "minikube_py.controllers.persistentvolume:PersistentVolumeController",
    "local-path-provisioner": "minikube_py.controllers.localpath:LocalPathProvisioner",
    "pvc-protection": "minikube_py.controllers.storageprotection:PVCProtectionController",
    "pv-protection": "minikube_py.controllers.storageprotection:PVProtectionController",
    "statefulset": "minikube_py.controllers.statefulset:StatefulSetController",
    "resourcequota": "minikube_py.controllers.resourcequota:ResourceQuotaController",
    "clusterrole-aggregation": "minikube_py.controllers.clusterroleaggregation:ClusterRoleAggregationController",
}


class UnknownController(ValueError):
    pass


def select_controllers(spec: str, known=None) -> list[str]:
    """kube-controller-manager's --controllers: "*" all, "name" one, "-name" not that one.

    >>> select_controllers("*,-nodelifecycle", ["garbagecollector", "nodelifecycle"])
    ['garbagecollector']
    """
    known = list(known if known is not None else CONTROLLERS)
    items = [s.strip() for s in (spec or "*").split(",") if s.strip()]
    for item in items:
        name = item.lstrip("-")
        if item != "*" and name not in known:
            raise UnknownController(f"unknown controller {name!r} (known: {', '.join(known)})")
    chosen = []
    for name in known:
        if f"-{name}" in items:
            continue
        if name in items or "*" in items:
            chosen.append(name)
    return chosen


def load_controller(name: str, target: Optional[str] = None):
    """Import the class for a controller name; raises ImportError with a clear reason."""
    target = target or CONTROLLERS[name]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise ImportError(f"controller {name!r}: module {module_name} does not exist") from err
        raise ImportError(f"controller {name!r}: importing {module_name} failed: {err}") from err
    except Exception as err:   # a bug in the module: say so, don't take the others down
        raise ImportError(f"controller {name!r}: importing {module_name} failed: {err!r}") from err
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"controller {name!r}: {module_name} has no class {class_name}") from None


class ControllerManager:
    """Builds the selected controllers around shared informers and runs them.

    ``started`` maps the names that run to the controller objects; ``skipped`` maps
    the names that could not be loaded or built to the reason.
    """

    def __init__(self, client, controllers: Optional[list[str]] = None,
                 config: Optional[ControllerConfig] = None,
                 registry: Optional[dict[str, str]] = None):
        self.client = client
        self.registry = dict(registry or CONTROLLERS)
        self.names = controllers if controllers is not None else list(self.registry)
        self.config = config or ControllerConfig()
        self.informers = SharedInformers(client)
        self.started: dict[str, object] = {}
        self.skipped: dict[str, str] = {}
        self.ready = threading.Event()   # set once the controllers run

    def build(self) -> dict[str, object]:
        """Import and construct each controller as ``Cls(client, informers)``."""
        for name in self.names:
            try:
                cls = load_controller(name, self.registry[name])
                controller = cls(self.client, self.informers)
            except Exception as err:
                reason = str(err) if isinstance(err, ImportError) else f"{name}: {err!r}"
                self.skipped[name] = reason
                log.error("skipping controller %s: %s", name, reason)
                continue
            controller.config = self.config         # extra settings, read at run time
            if self.config.workers:
                controller.workers = self.config.workers
            self.started[name] = controller
        return self.started

    def work_queues(self) -> list:
        """Every work queue of the controllers built (for the workqueue_* metrics)."""
        from ..client.workqueue import WorkQueue
        return [q for c in self.started.values() for q in vars(c).values()
                if isinstance(q, WorkQueue)]

    def run(self, stop: threading.Event, sync_timeout: float = 30.0) -> None:
        """Build, fill the caches, start every controller; block until ``stop`` is set."""
        if not self.started and not self.skipped:
            self.build()
        self.informers.start()
        while not self.informers.wait_for_sync(timeout=sync_timeout):
            if stop.is_set():
                break
            log.warning("controller manager: caches not synced after %.0fs; still waiting",
                        sync_timeout)
        if not stop.is_set():
            for name, controller in self.started.items():
                # A controller's run() starts threads and returns; one that blocks
                # must not hold up the others, so each is started in its own thread.
                threading.Thread(target=self._run_one, args=(name, controller, stop),
                                 daemon=True, name=f"run-{name}").start()
            log.info("controller manager: started %s%s", ", ".join(self.started) or "nothing",
                     f"; skipped {', '.join(self.skipped)}" if self.skipped else "")
            self.ready.set()
        stop.wait()
        self.informers.stop()

    @staticmethod
    def _run_one(name, controller, stop):
        try:
            controller.run(stop)
        except Exception:
            log.exception("controller %s failed", name)
