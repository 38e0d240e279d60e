"""Shared by the ReplicaSet and Deployment integration tests (no tests of its own).

The controllers run in this process (conftest's ``controller_manager``); no kubelet
runs: tests/fakekubelet.py plays one.

- objects: ``template``, ``replicaset``, ``deployment``; ``pods_of`` and ``wait_for``.
- ``PodCounter``: follows a namespace's pods through a watch and remembers the most
  that ever existed at once ("never more pods than asked").
"""
from __future__ import annotations

import threading
import time


from minikube_py.client import errors
from minikube_py.client.informer import meta_key


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
