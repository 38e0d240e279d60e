"""`minikube-py scheduler`: run the scheduler against an apiserver until stopped.

    minikube-py scheduler --kubeconfig ~/.minikube-py/kubeconfig
    python -m minikube_py.scheduler.command --kubeconfig K --weights TaintToleration=5 -v

Like kube-scheduler it needs nothing but the API: stop it, restart it, and it
finds the pending pods again.

Two or more copies may run for high availability (the compose lab does): with
``--leader-elect`` each campaigns for the Lease ``kube-system/kube-scheduler`` and only
the holder schedules, so a pod is never bound twice by two schedulers' different
choices. As kube-scheduler does, a leader that loses the lease exits (status 1) for its
supervisor to restart it clean; SIGTERM gives the lease back at once. Unlike
kube-scheduler the default is off: ``minikube-py up`` runs a single scheduler, with
nobody to restart it.
"""
from __future__ import annotations

import logging
import threading

import click

from ..controllers.command import DURATION, election_timing, run_elected
from .plugins import parse_weights
from .profile import Profile
from .scheduler import DEFAULT_SCHEDULER_NAME, EVENT_BURST, EVENT_QPS, Scheduler

log = logging.getLogger("minikube_py.scheduler")


@click.command("scheduler", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", default=None, help="kubeconfig of the cluster (default: the usual search)")
@click.option("--master", default=None, help="apiserver URL (overrides the kubeconfig's server)")
@click.option("--scheduler-name", default=DEFAULT_SCHEDULER_NAME, show_default=True,
              help="schedule pods whose spec.schedulerName is this")
@click.option("--percentage-of-nodes-to-score", default=0, show_default=True,
              type=click.IntRange(0, 100),
              help="stop filtering after this % of nodes are feasible (0: adaptive, as kube-scheduler)")
@click.option("--weights", default="", metavar="PLUGIN=W,...",
              help="score weights, e.g. TaintToleration=3,SelectorSpread=0 (0 disables a scorer)")
@click.option("--bind-workers", default=8, show_default=True, type=click.IntRange(1, 256),
              help="threads that POST bindings in parallel")
@click.option("--pod-initial-backoff-seconds", default=1.0, show_default=True, type=float)
@click.option("--pod-max-backoff-seconds", default=10.0, show_default=True, type=float)
@click.option("--pod-max-unschedulable-seconds", default=300.0, show_default=True, type=float,
              help="retry an unschedulable pod after this long even if nothing changed")
@click.option("--event-qps", default=EVENT_QPS, show_default=True, type=click.FloatRange(min=0.1),
              help="events written per second at most (kube-scheduler's client default)")
@click.option("--event-burst", default=EVENT_BURST, show_default=True, type=click.IntRange(1),
              help="events written at once before --event-qps applies")
@click.option("--leader-elect/--no-leader-elect", default=False, show_default=True,
              help="campaign for a Lease; only the leader schedules (run several copies for HA)")
@click.option("--leader-elect-lease-duration", type=DURATION, default="15s", show_default=True)
@click.option("--leader-elect-renew-deadline", type=DURATION, default=None,
              help="[default: 10s, or 2/3 of a shorter lease]")
@click.option("--leader-elect-retry-period", type=DURATION, default=None,
              help="[default: 2s, or half of a shorter renew deadline]")
@click.option("--leader-elect-resource-namespace", default="kube-system", show_default=True)
@click.option("--leader-elect-resource-name", default="kube-scheduler", show_default=True)
@click.option("--identity", default=None, help="leader election identity [default: host_uuid]")
@click.option("--metrics-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="serve Prometheus /metrics on 127.0.0.1:PORT (kube-scheduler: 10259); 0: off")
@click.option("-v", "--verbose", is_flag=True, help="log every decision")
def command(kubeconfig, master, scheduler_name, percentage_of_nodes_to_score, weights, bind_workers,
            pod_initial_backoff_seconds, pod_max_backoff_seconds, pod_max_unschedulable_seconds,
            event_qps, event_burst, leader_elect, leader_elect_lease_duration,
            leader_elect_renew_deadline, leader_elect_retry_period,
            leader_elect_resource_namespace, leader_elect_resource_name, identity, metrics_port,
            verbose):
    """Run the scheduler: place pending pods on nodes (filter, score, bind)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("urllib3").setLevel(logging.WARNING)
    from ..client.rest import Client

    timing = election_timing(leader_elect_lease_duration, leader_elect_renew_deadline,
                             leader_elect_retry_period) if leader_elect else None
    try:
        profile = Profile(weights=parse_weights(weights),
                          percentage_of_nodes_to_score=percentage_of_nodes_to_score)
    except (KeyError, ValueError) as err:
        raise click.BadParameter(str(err.args[0] if err.args else err), param_hint="--weights")
    client = Client(server=master, kubeconfig=kubeconfig, user_agent=f"minikube-py/{scheduler_name}")
    sched = Scheduler(client, name=scheduler_name, profile=profile, bind_workers=bind_workers,
                      initial_backoff=pod_initial_backoff_seconds,
                      max_backoff=pod_max_backoff_seconds,
                      max_unschedulable=pod_max_unschedulable_seconds,
                      event_qps=event_qps, event_burst=event_burst)
    if metrics_port:
        from ..metrics.prometheus import SchedulerCollector, registry_with, serve
        serve(registry_with(SchedulerCollector(sched)), metrics_port)
        log.info("scheduler metrics on http://127.0.0.1:%d/metrics", metrics_port)
    log.info("scheduler %s starting (apiserver %s, weights %s)", scheduler_name, client.server,
             {p.name: p.weight for p in profile.scorers})
    if leader_elect:
        from ..systemd import notify_ready
        notify_ready("campaigning for the lease")
    led, stopped = threading.Event(), threading.Event()   # it led; its loop has wound down

    def lead(leading_ended):
        led.set()
        try:
            _schedule_until(sched, leading_ended)
        finally:
            stopped.set()
    # Returns on SIGTERM/SIGINT; a lost lease exits the process (its cache may be stale).
    run_elected(client, lead, "scheduler", timing, leader_elect_resource_namespace,
                leader_elect_resource_name, identity)
    if led.is_set():     # let the loop post its last bindings and events
        stopped.wait(15)


def _schedule_until(sched: Scheduler, stop: threading.Event) -> None:
    """Sync the caches, schedule until `stop` is set (a signal, or the lease is lost)."""
    from ..systemd import notify_ready
    while not stop.is_set():
        try:
            sched.start(sync_timeout=30)
            break
        except TimeoutError as err:          # apiserver not up yet: the informers keep trying
            log.warning("%s; still waiting", err)
    notify_ready("caches synced, scheduling")
    stop.wait()
    log.info("scheduler stopping: %s; events written %d, dropped %d", sched.stats,
             sched.recorder.written, sched.recorder.dropped)
    sched.stop()


if __name__ == "__main__":
    command()
