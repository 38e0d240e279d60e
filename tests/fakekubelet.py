"""A kubelet without containers, for integration tests that run no real kubelet.

It does, through the real apiserver, the parts of a kubelet's work that controllers
look at:

- **its node** (after ``register()``): creates the Node with Ready=True and its Lease
  in kube-node-lease, then renews the Lease every ``period`` seconds and posts its
  Ready status (``wanted``) again whenever the node says otherwise -- what the node
  lifecycle controller watches. ``stop()`` is a crash: the heartbeats stop.
- **the pods of a namespace** (with ``namespace``): reports each new pod Running and
  Ready after ``delay`` seconds through pods/{name}/status, as a kubelet does once the
  containers pass their readiness probes, and finishes a graceful deletion with DELETE
  gracePeriodSeconds=0, as a kubelet does once the containers have stopped -- what the
  ReplicaSet and Deployment controllers wait for. ``only`` (a predicate on the pod)
  limits which pods it ever makes ready (e.g. leave a broken new version unready).
  With ``node`` it first binds each pod to that node, as the scheduler would; bound
  pods then delete gracefully.
- **pods that finish** (with ``finish``, asked once per running pod: None -- keep it
  running -- or an exit code): ends each running pod as a kubelet does when its
  containers exit under restartPolicy Never, phase Succeeded (code 0) or Failed, with
  each container's ``state.terminated`` (exitCode, reason, finishedAt) -- what the Job
  controller and its podFailurePolicy read.

Use it as a context manager (``with FakeKubelet(client, namespace): ...``) or call
``start()`` and ``stop()``.
"""
from __future__ import annotations

import itertools
import threading
import time

from minikube_py.api import meta
from minikube_py.client import errors

NODE_LEASE_NAMESPACE = "kube-node-lease"


def ready_status(ip="10.1.0.1"):
    """The status a kubelet reports for a running pod whose containers are ready."""
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


def finish_pod(client, pod, exit_code: int, reason=None):
    """Report a pod whose containers all exited with ``exit_code`` (restartPolicy Never)."""
    now = meta.now_rfc3339()
    terminated = {"exitCode": exit_code, "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                  "startedAt": now, "finishedAt": now}
    statuses = [{"name": c["name"], "image": c.get("image", ""), "ready": False, "restartCount": 0,
                 "state": {"terminated": terminated}} for c in pod["spec"].get("containers") or []]
    conds = [dict(c, status="False", lastTransitionTime=now) if c["type"] in ("Ready", "ContainersReady") else c
             for c in (pod.get("status") or {}).get("conditions") or []]
    try:
        return client.patch("pods", pod["metadata"]["name"], {"status": {
            "phase": "Succeeded" if exit_code == 0 else "Failed", "containerStatuses": statuses,
            "conditions": conds}}, namespace=pod["metadata"]["namespace"], subresource="status")
    except errors.NotFound:
        return None


class FakeKubelet:
    def __init__(self, client, namespace=None, delay=0.0, only=None, node=None, period=0.3, finish=None):
        self.client, self.namespace, self.delay, self.only = client, namespace, delay, only
        self.finish = finish           # pod -> None (keeps running) or its exit code
        self.node = self.name = node   # the node this kubelet is (pods are bound to it)
        self.period = period           # heartbeat: Lease renewal and Ready check
        self.wanted = "True"           # the Ready status this kubelet reports for its node
        self.registered = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ips = itertools.count(2)
        self._seen = set()
        self._finished = set()           # pods ``finish`` has been asked about

    # ------------------------------------------------------------ running

    def start(self):
        self._stop.clear()
        loops = ([self._heartbeat_loop] if self.registered else []) + \
                ([self._pods_loop] if self.namespace else [])
        self._threads = [threading.Thread(target=loop, daemon=True,
                                          name=f"fake-kubelet-{self.namespace or self.name}")
                         for loop in loops]
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ the node

    def register(self):
        """Create the Node (Ready=True) and its Lease."""
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name},
                "status": {"conditions": [self._ready("True")]}}
        self.client.create("nodes", node)
        self.client.create("leases", {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "namespace": NODE_LEASE_NAMESPACE},
            "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40,
                     "renewTime": meta.now_micro()}}, namespace=NODE_LEASE_NAMESPACE)
        self.registered = True
        return self

    @staticmethod
    def _ready(status):
        now = meta.now_rfc3339()
        return {"type": "Ready", "status": status,
                "reason": "KubeletReady" if status == "True" else "KubeletNotReady",
                "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                "lastTransitionTime": now}

    def post_ready(self, status="True"):
        """Post the node's Ready condition (and keep reporting it)."""
        self.wanted = status
        for _ in range(10):
            node = self.client.get("nodes", self.name)
            conds = [c for c in node["status"].get("conditions", []) if c["type"] != "Ready"]
            node["status"]["conditions"] = conds + [self._ready(status)]
            try:
                return self.client.update_status("nodes", node)
            except errors.Conflict:
                continue

    def renew(self):
        lease = self.client.get("leases", self.name, namespace=NODE_LEASE_NAMESPACE)
        lease["spec"]["renewTime"] = meta.now_micro()
        try:
            self.client.update("leases", lease)
        except errors.Conflict:
            pass

    def delete(self):
        """Stop, and remove the Node and its Lease."""
        self.stop()
        for res, ns in (("nodes", None), ("leases", NODE_LEASE_NAMESPACE)):
            try:
                self.client.delete(res, self.name, namespace=ns)
            except errors.NotFound:
                pass

    def _heartbeat_loop(self):
        while not self._stop.wait(self.period):
            try:
                self.renew()
                # Like a kubelet: if the node says otherwise, post our status again.
                ready = next((c for c in self.client.get("nodes", self.name)["status"]
                              .get("conditions", []) if c["type"] == "Ready"), {})
                if ready.get("status") != self.wanted:
                    self.post_ready(self.wanted)
            except Exception:
                pass

    # ------------------------------------------------------------ the pods

    def _pods_loop(self):
        while not self._stop.is_set():
            try:
                for pod in self.client.list("pods", namespace=self.namespace)["items"]:
                    self._handle(pod)
            except Exception:  # the apiserver may be restarting: try again
                pass
            self._stop.wait(0.05)

    def _handle(self, pod):
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            try:
                self.client.delete("pods", md["name"], namespace=self.namespace, grace_period_seconds=0)
            except errors.NotFound:
                pass
            return
        if md["uid"] in self._seen and self.finish is not None and md["uid"] not in self._finished \
                and (pod.get("status") or {}).get("phase") == "Running":
            code = self.finish(pod)              # asked once per pod
            self._finished.add(md["uid"])
            if code is not None:
                finish_pod(self.client, pod, code)
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
