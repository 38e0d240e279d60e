"""`minikube-py scheduler`: run the scheduler against an apiserver until stopped.

    minikube-py scheduler --kubeconfig ~/.minikube-py/kubeconfig
    python -m minikube_py.scheduler.command --kubeconfig K --weights TaintToleration=5 -v

Like kube-scheduler it needs nothing but the API: stop it, restart it, and it
finds the pending pods again.
"""
from __future__ import annotations

import logging
import signal
import threading

import click

from .plugins import parse_weights
from .profile import Profile
from .scheduler import DEFAULT_SCHEDULER_NAME, EVENT_BURST, EVENT_QPS, Scheduler

log = logging.getLogger("minikube_py.scheduler")


@click.command("scheduler", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", default=None, help="kubeconfig of the cluster (default: the usual search)")
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
@click.option("--metrics-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="serve Prometheus /metrics on 127.0.0.1:PORT (kube-scheduler: 10259); 0: off")
@click.option("-v", "--verbose", is_flag=True, help="log every decision")
def command(kubeconfig, scheduler_name, percentage_of_nodes_to_score, weights, bind_workers,
            pod_initial_backoff_seconds, pod_max_backoff_seconds, pod_max_unschedulable_seconds,
            event_qps, event_burst, metrics_port, verbose):
    """Run the scheduler: place pending pods on nodes (filter, score, bind)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("urllib3").setLevel(logging.WARNING)
    from ..client.rest import Client

    try:
        profile = Profile(weights=parse_weights(weights),
                          percentage_of_nodes_to_score=percentage_of_nodes_to_score)
    except (KeyError, ValueError) as err:
        raise click.BadParameter(str(err.args[0] if err.args else err), param_hint="--weights")
    client = Client(kubeconfig=kubeconfig, user_agent=f"minikube-py/{scheduler_name}")
    sched = Scheduler(client, name=scheduler_name, profile=profile, bind_workers=bind_workers,
                      initial_backoff=pod_initial_backoff_seconds,
                      max_backoff=pod_max_backoff_seconds,
                      max_unschedulable=pod_max_unschedulable_seconds,
                      event_qps=event_qps, event_burst=event_burst)
    if metrics_port:
        from ..metrics.prometheus import SchedulerCollector, registry_with, serve
        serve(registry_with(SchedulerCollector(sched)), metrics_port)
        log.info("scheduler metrics on http://127.0.0.1:%d/metrics", metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("scheduler %s starting (apiserver %s, weights %s)", scheduler_name, client.server,
             {p.name: p.weight for p in profile.scorers})
    while not stop.is_set():
        try:
            sched.start(sync_timeout=30)
            break
        except TimeoutError as err:          # apiserver not up yet: the informers keep trying
            log.warning("%s; still waiting", err)
    from ..systemd import notify_ready
    notify_ready("caches synced, scheduling")
    stop.wait()
    log.info("scheduler stopping: %s; events written %d, dropped %d", sched.stats,
             sched.recorder.written, sched.recorder.dropped)
    sched.stop()


if __name__ == "__main__":
    command()
