"""`minikube-py controller-manager`: the process that runs the controllers.

(Also here: ``replicaset-controller`` and ``deployment-controller``, which run one or
two controllers on their own, to watch them think; see the end of this module.)

Like kube-controller-manager it may run as several copies for high availability.
With ``--leader-elect`` (the default) every copy campaigns for the Lease
``kube-system/kube-controller-manager``; only the holder runs controllers, the others
wait. A leader that cannot renew the lease in time stops leading, and then this
process *exits* (status 1, "leader election lost"), as kube-controller-manager does:
its caches and queues may be stale, so a clean restart by the supervisor (systemd,
docker, ``minikube-py up``) is safer than carrying on. SIGTERM gives the lease back at
once, so a standby takes over without waiting for it to expire.
"""
from __future__ import annotations

import logging
import os
import re
import signal
import socket
import sys
import threading
import uuid

import click

log = logging.getLogger("minikube_py.controllers.command")


class Duration(click.ParamType):
    """A duration as Kubernetes flags take it ("40s", "1m30s", "500ms") or plain seconds."""

    name = "duration"
    _UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    _PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")

    def convert(self, value, param, ctx):
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = self._PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                self.fail(f"{value!r} is not a duration (examples: 40s, 1m30s, 500ms, 2.5)",
                          param, ctx)
            seconds = sum(float(n) * self._UNITS[u] for n, u in parts)
        if seconds < 0 or seconds != seconds:   # negative or NaN
            self.fail(f"{value!r}: a duration cannot be negative", param, ctx)
        return seconds


DURATION = Duration()


def setup_logging(verbose: bool):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    # Keep the client's per-request chatter out of -v unless asked for by name.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def election_timing(lease_duration: float, renew_deadline=None, retry_period=None):
    """lease > renew deadline > retry period, as leader election needs.

    Kubernetes' defaults are 15 s / 10 s / 2 s; a lab that shortens only the lease
    (``--leader-elect-lease-duration 4s``) gets the other two scaled down with it.
    """
    if renew_deadline is None:
        renew_deadline = min(10.0, lease_duration * 2 / 3)
    if retry_period is None:
        retry_period = min(2.0, renew_deadline / 2)
    if not lease_duration > renew_deadline > retry_period > 0:
        raise click.BadParameter(
            f"need lease duration ({lease_duration}) > renew deadline ({renew_deadline}) > "
            f"retry period ({retry_period}) > 0")
    return lease_duration, renew_deadline, retry_period


@click.command("controller-manager", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", envvar="KUBECONFIG", help="kubeconfig with the apiserver's address")
@click.option("--master", help="apiserver URL (overrides the kubeconfig's server)")
@click.option("--controllers", default="*", show_default=True,
              help='controllers to run: "*" all, "name" enables, "-name" disables, comma-separated')
@click.option("--leader-elect/--no-leader-elect", default=True, show_default=True,
              help="campaign for a Lease; only the leader runs controllers")
@click.option("--leader-elect-lease-duration", type=DURATION, default="15s", show_default=True)
@click.option("--leader-elect-renew-deadline", type=DURATION, default=None,
              help="[default: 10s, or 2/3 of a shorter lease]")
@click.option("--leader-elect-retry-period", type=DURATION, default=None,
              help="[default: 2s, or half of a shorter renew deadline]")
@click.option("--leader-elect-resource-namespace", default="kube-system", show_default=True)
@click.option("--leader-elect-resource-name", default="kube-controller-manager", show_default=True)
@click.option("--identity", default=None, help="leader election identity [default: host_uuid]")
@click.option("--node-monitor-grace-period", type=DURATION, default="40s", show_default=True,
              help="a node silent this long becomes Ready=Unknown")
@click.option("--node-monitor-period", type=DURATION, default="5s", show_default=True,
              help="how often node health is checked")
@click.option("--pod-eviction-timeout", type=DURATION, default="300s", show_default=True,
              help="toleration of not-ready/unreachable taints for pods that have none")
@click.option("--force-delete-unreachable-pods/--no-force-delete-unreachable-pods", default=True,
              show_default=True, help="force-delete terminating pods of unreachable nodes "
                                      "after their grace period")
@click.option("--gc-discovery-period", type=DURATION, default="30s", show_default=True,
              help="how often the garbage collector looks for new resource types")
@click.option("--job-pod-failure-backoff", type=DURATION, default="10s", show_default=True,
              help="a Job waits this long before replacing a failed pod (doubling per failure, at most 6m)")
@click.option("--resource-quota-sync-period", type=DURATION, default="5m", show_default=True,
              help="how often every ResourceQuota's usage is recounted in full")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="worker threads per controller [default: each controller's own]")
@click.option("--local-path-dir", default=None, type=click.Path(file_okay=False),
              help="the local-path provisioner's directory (every node must see it: `up` passes "
                   "{state dir}/local-path) [default: no local-path provisioning]")
@click.option("--root-ca-file", default=None, type=click.Path(dir_okay=False, exists=True),
              help="the CA published to every namespace as ConfigMap kube-root-ca.crt "
                   "[default: the CA the kubeconfig trusts]")
@click.option("--metrics-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="serve Prometheus /metrics (workqueue_*) on 127.0.0.1:PORT "
                   "(kube-controller-manager: 10257); 0: off")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def command(kubeconfig, master, controllers, leader_elect, leader_elect_lease_duration,
            leader_elect_renew_deadline, leader_elect_retry_period,
            leader_elect_resource_namespace, leader_elect_resource_name, identity,
            node_monitor_grace_period, node_monitor_period, pod_eviction_timeout,
            force_delete_unreachable_pods, gc_discovery_period, job_pod_failure_backoff,
            resource_quota_sync_period, workers, local_path_dir, root_ca_file, metrics_port, verbose):
    """Run the controllers (garbage collector, namespace, node lifecycle, ReplicaSet, ...)."""
    setup_logging(verbose)
    from ..client.rest import Client
    from .manager import ControllerConfig, ControllerManager, UnknownController, select_controllers

    try:
        names = select_controllers(controllers)
    except UnknownController as err:
        raise click.BadParameter(str(err), param_hint="--controllers")
    timing = election_timing(leader_elect_lease_duration, leader_elect_renew_deadline,
                             leader_elect_retry_period) if leader_elect else None
    try:
        client = Client(server=master, kubeconfig=kubeconfig, user_agent="minikube-py/controller-manager")
    except Exception as err:
        raise click.ClickException(f"cannot load client configuration: {err}")
    config = ControllerConfig(node_monitor_grace_period=node_monitor_grace_period,
                              node_monitor_period=node_monitor_period,
                              pod_eviction_timeout=pod_eviction_timeout,
                              force_delete_unreachable_pods=force_delete_unreachable_pods,
                              gc_discovery_period=gc_discovery_period,
                              job_pod_failure_backoff=job_pod_failure_backoff,
                              resource_quota_sync_period=resource_quota_sync_period, workers=workers,
                              local_path_dir=os.path.abspath(local_path_dir) if local_path_dir else None,
                              root_ca_file=root_ca_file)
    manager = ControllerManager(client, names, config)
    manager.build()   # import errors are reported now, before any campaigning
    log.info("controller-manager against %s: controllers %s", client.server,
             ", ".join(manager.started) or "none")

    if metrics_port:
        from ..metrics.prometheus import WorkQueueCollector, registry_with, serve
        serve(registry_with(WorkQueueCollector(manager.work_queues)), metrics_port)
        log.info("controller-manager metrics on http://127.0.0.1:%d/metrics", metrics_port)
    from ..systemd import notify_ready
    notify_ready("running" if not leader_elect else "campaigning for the lease")
    run_elected(client, manager.run, "controller-manager", timing, leader_elect_resource_namespace,
                leader_elect_resource_name, identity)


def run_elected(client, run, component: str, timing, lease_namespace: str, lease_name: str,
                identity=None) -> None:
    """Run ``run(stop)`` until SIGTERM/SIGINT; with ``timing`` (lease, renew, retry) only
    while this process holds the Lease ``lease_namespace/lease_name``. Losing the lease
    exits the process (status 1), as Kubernetes components do (see the module doc)."""
    from ..client.leaderelection import LeaderElector
    stopping = threading.Event()

    if timing is None:
        _on_signals(lambda: stopping.set())
        run(stopping)
        log.info("%s stopped", component)
        return

    identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    lease, renew, retry = timing
    elector = LeaderElector(client, lease_namespace, lease_name, identity, lease_duration=lease,
                            renew_deadline=renew, retry_period=retry, on_started_leading=run)

    def on_signal():
        stopping.set()
        elector.stop()   # a leader steps down and frees the lease

    _on_signals(on_signal)
    log.info("%s: campaigning for lease %s/%s", identity, lease_namespace, lease_name)
    elector.run()        # blocks while campaigning and while leading
    if stopping.is_set():
        log.info("%s stopped", component)
        return
    log.error("leader election lost; exiting so that a clean process takes over")
    logging.shutdown()
    os._exit(1)          # daemon threads hold stale caches: leave at once


def _on_signals(handler):
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: handler())



# ------------------------------------------------------------------ single controllers
#   python -m minikube_py.controllers.command replicaset-controller --kubeconfig ... -v
#   python -m minikube_py.controllers.command deployment-controller --server ...

def _single_controller_options(fn):
    for option in reversed((
            click.option("--kubeconfig", default=None, help="Path to the kubeconfig file."),
            click.option("--server", default=None,
                         help="The apiserver URL (overrides the kubeconfig)."),
            click.option("--workers", type=click.IntRange(min=1), default=None,
                         help="Objects synced at once.  [default: 5, the controller's own]"),
            click.option("-v", "--verbose", is_flag=True, help="Log every sync decision."))):
        fn = option(fn)
    return fn


@click.command("replicaset-controller")
@_single_controller_options
def replicaset_command(kubeconfig, server, workers, verbose):
    """Run only the ReplicaSet controller (the controller-manager runs it with the others)."""
    from .replicaset import COMPONENT, ReplicaSetController
    run_standalone(kubeconfig, server, COMPONENT, [ReplicaSetController], workers, verbose)


@click.command("deployment-controller")
@_single_controller_options
@click.option("--with-replicaset/--without-replicaset", default=True, show_default=True,
              help="Also run the ReplicaSet controller (a Deployment needs one to get pods).")
def deployment_command(kubeconfig, server, workers, verbose, with_replicaset):
    """Run only the Deployment controller (the controller-manager runs it with the others)."""
    from .deployment import COMPONENT, DeploymentController
    from .replicaset import ReplicaSetController
    classes = [DeploymentController] + ([ReplicaSetController] if with_replicaset else [])
    run_standalone(kubeconfig, server, COMPONENT, classes, workers, verbose)


def run_standalone(kubeconfig, server, component: str, classes: list, workers, verbose) -> None:
    """What the controller-manager does, small: shared informers, the controllers,
    wait for the caches, run until Ctrl-C. (No leader election: run one copy only.)
    ``workers`` applies to the first controller."""
    from ..client.rest import Client
    from .base import SharedInformers
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    client = Client(server=server, kubeconfig=kubeconfig, user_agent=component)
    informers = SharedInformers(client)
    controllers = [cls(client, informers) for cls in classes]
    if workers:
        controllers[0].workers = workers
    informers.start()
    if not informers.wait_for_sync(60):
        raise click.ClickException("informer caches did not sync (is the apiserver up?)")
    stop = threading.Event()
    for controller in controllers:
        controller.run(stop)
    click.echo(f"{', '.join(c.name for c in controllers)} controller(s) running against "
               f"{client.server}; Ctrl-C stops")
    try:
        stop.wait()
    except KeyboardInterrupt:
        stop.set()
    informers.stop()


SINGLE_CONTROLLERS = {"replicaset-controller": replicaset_command,
                      "deployment-controller": deployment_command}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in SINGLE_CONTROLLERS:
        name = sys.argv[1]
        SINGLE_CONTROLLERS[name](sys.argv[2:], prog_name=f"python -m {__spec__.name} {name}")
    else:
        command()
