"""Shared by the ReplicaSet and Deployment integration tests (no tests of its own).

- ``controllers``: the ReplicaSet and Deployment controllers running in this process
  against the real apiserver of the ``cluster`` fixture, wired as the controller
  manager wires them (shared informers, start, wait for sync, run).
- ``FakeKubelet``: no kubelet exists in these tests, so this plays one: it watches the
  pods of a namespace and reports them Running and Ready through pods/{name}/status,
  the way a kubelet would once the containers pass their readiness probes.
- ``PodCounter``: follows a namespace's pods through a watch and remembers the most
  that ever existed at once ("never more pods than asked").
"""
from __future__ import annotations

import itertools
import threading
import time

import pytest

from minikube_py.api import meta
from minikube_py.client import errors
from minikube_py.client.informer import meta_key
from minikube_py.client.rest import Client
from minikube_py.controllers.base import SharedInformers
from minikube_py.controllers.deployment import DeploymentController
from minikube_py.controllers.replicaset import ReplicaSetController


class Controllers:
    def __init__(self, server: str):
        self.client = Client(server=server)
        self.informers = SharedInformers(self.client)
        self.rs = ReplicaSetController(self.client, self.informers)
        self.deploy = DeploymentController(self.client, self.informers)
        self.stop = threading.Event()

    def start(self):
        self.informers.start()
        assert self.informers.wait_for_sync(30)
        self.rs.run(self.stop)
        self.deploy.run(self.stop)
        return self

    def close(self):
        self.stop.set()
        self.informers.stop()
        self.client.close()


@pytest.fixture(scope="module")
def controllers(cluster):
    c = Controllers(cluster.server).start()
    yield c
    c.close()


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    """Poll until pred() is truthy; return its value, or fail with `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def template(labels, image="busybox:latest", annotations=None):
    md = {"labels": dict(labels)}
    if annotations:
        md["annotations"] = annotations
    return {"metadata": md,
            "spec": {"containers": [{"name": "app", "image": image,
                                     "command": ["sleep", "3600"]}]}}


def replicaset(name, replicas, labels, min_ready=0):
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "selector": {"matchLabels": dict(labels)}, "template": template(labels)}}


def deployment(name, replicas, labels, strategy=None, **spec):
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": template(labels), **spec}}
    if strategy:
        body["spec"]["strategy"] = strategy
    return body


def pods_of(client, namespace, selector=None, active=True):
    items = client.list("pods", namespace=namespace, label_selector=selector)["items"]
    if active:
        items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    return items


def ready_status(ip="10.1.0.1"):
    now = meta.now_rfc3339()
    return {"phase": "Running", "podIP": ip, "startTime": now,
            "conditions": [{"type": "Initialized", "status": "True", "lastTransitionTime": now},
                           {"type": "Ready", "status": "True", "lastTransitionTime": now},
                           {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}


def mark_ready(client, pod, ip="10.1.0.1"):
    """Report one pod Running and Ready, as its kubelet would."""
    try:
        return client.patch("pods", pod["metadata"]["name"], {"status": ready_status(ip)},
                            namespace=pod["metadata"]["namespace"], subresource="status")
    except errors.NotFound:
        return None


class FakeKubelet:
    """Marks every new pod of a namespace Running/Ready after ``delay`` seconds.

    ``only`` (a predicate on the pod) limits which pods it ever makes ready, e.g. to
    leave a broken new version unready. With ``node`` it first binds each pod to that
    node, as the scheduler would; bound pods then delete gracefully, and a pod that gets
    a deletionTimestamp is finished with DELETE gracePeriodSeconds=0, as a kubelet does
    once its containers have stopped.
    """

    def __init__(self, client, namespace, delay=0.0, only=None, node=None):
        self.client, self.namespace, self.delay, self.only = client, namespace, delay, only
        self.node = node             # bind pods to this node name first (then deletes are graceful)
        self.stop_event = threading.Event()
        self._ips = itertools.count(2)
        self._seen = set()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"fake-kubelet-{namespace}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(5)

    def _run(self):
        while not self.stop_event.is_set():
            try:
                for pod in self.client.list("pods", namespace=self.namespace)["items"]:
                    self._handle(pod)
            except Exception:  # the apiserver may be restarting: try again
                pass
            self.stop_event.wait(0.05)

    def _handle(self, pod):
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            try:
                self.client.delete("pods", md["name"], namespace=self.namespace, grace_period_seconds=0)
            except errors.NotFound:
                pass
            return
        if md["uid"] in self._seen or (self.only and not self.only(pod)):
            return
        created = meta.parse_time(md["creationTimestamp"]).timestamp()
        if time.time() - created < self.delay:
            return
        if self.node and not pod["spec"].get("nodeName"):
            try:
                self.client.bind(self.namespace, md["name"], self.node)
            except (errors.NotFound, errors.Conflict):
                return
        if mark_ready(self.client, pod, f"10.1.{next(self._ips) // 250}.{next(self._ips) % 250}"):
            self._seen.add(md["uid"])


class PodCounter:
    """Watches a namespace's pods and remembers the most that ever existed at once."""

    def __init__(self, client, namespace):
        self.client, self.namespace = client, namespace
        self.live: set = set()
        self.max = 0
        self.watch = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.watch is not None:
            self.watch.close()
        self.thread.join(5)

    def _run(self):
        rv = None
        while not self.stop.is_set():
            try:
                if rv is None:
                    listed = self.client.list("pods", namespace=self.namespace)
                    self.live = {meta_key(p) for p in listed["items"]}
                    self.max = max(self.max, len(self.live))
                    rv = listed["metadata"]["resourceVersion"]
                with self.client.watch("pods", namespace=self.namespace, resource_version=rv,
                                       timeout_seconds=5) as w:
                    self.watch = w
                    for etype, pod in w:
                        rv = pod["metadata"].get("resourceVersion", rv)
                        if etype == "ADDED":
                            self.live.add(meta_key(pod))
                        elif etype == "DELETED":
                            self.live.discard(meta_key(pod))
                        self.max = max(self.max, len(self.live))
                        if self.stop.is_set():
                            return
            except errors.Expired:
                rv = None
            except Exception:
                time.sleep(0.2)          # the apiserver is restarting: resume from rv
