"""Bad pods and a lost Docker: clear reasons in the status, and the kubelet carries on."""
import os
import socket
import threading
import time

import pytest


from polling import wait_for  # noqa: E402  (tests/polling.py)

DOCKER_SOCK = "/var/run/docker.sock"




def status(api, ns, name) -> dict:
    return api.get("pods", name, ns).get("status") or {}


def container_status(api, ns, name) -> dict:
    return (status(api, ns, name).get("containerStatuses") or [{}])[0]


def running(api, ns, name) -> bool:
    return status(api, ns, name).get("phase") == "Running"


@pytest.fixture(scope="module")
def node(start_kubelet):
    return start_kubelet("faults")


def _pod(name, node, container, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [dict({"name": "c", "image": "busybox:1.35"}, **container)],
                     **spec}}


def _events(api, ns, name):
    return [(e["type"], e["reason"], e["message"]) for e in api.list("events", ns)["items"]
            if e["involvedObject"]["name"] == name]


def _waiting(api, ns, name):
    return (container_status(api, ns, name).get("state") or {}).get("waiting") or {}


def test_bad_pods_get_clear_reasons_and_the_kubelet_serves_the_rest(node, api_client, namespace,
                                                                    kubectl):
    n = node.node_name
    pods = [
        _pod("healthy", n, {"command": ["sh", "-c", "echo alive; sleep 3600"]}),
        _pod("no-image", n, {"image": "minikube-py/does-not-exist:0.1", "command": ["true"]}),
        _pod("never-pull", n, {"image": "minikube-py/does-not-exist:0.2",
                               "imagePullPolicy": "Never"}),
        _pod("bad-command", n, {"command": ["/no/such/binary"]}),
        _pod("bad-limits", n, {"command": ["sleep", "3600"],
                               "resources": {"limits": {"memory": "1Ki"}}}),
        _pod("not-ready", n, {"command": ["sleep", "3600"],
                              "readinessProbe": {"tcpSocket": {"port": 9999}, "periodSeconds": 1}}),
        _pod("not-alive", n, {"command": ["sleep", "3600"],
                              "livenessProbe": {"httpGet": {"port": 8080, "path": "/healthz"},
                                                "periodSeconds": 1, "failureThreshold": 1}}),
    ]
    for p in pods:
        api_client.create("pods", p, namespace)

    wait_for(lambda: _waiting(api_client, namespace, "no-image").get("reason")
             in ("ErrImagePull", "ImagePullBackOff"), what="ErrImagePull")
    assert "does-not-exist:0.1" in _waiting(api_client, namespace, "no-image")["message"]
    wait_for(lambda: _waiting(api_client, namespace, "never-pull").get("reason")
             == "ErrImageNeverPull", what="ErrImageNeverPull")
    wait_for(lambda: container_status(api_client, namespace, "bad-command").get("restartCount", 0)
             >= 1, what="bad-command restarted")
    cs = container_status(api_client, namespace, "bad-command")
    last = cs["lastState"].get("terminated") or cs["state"].get("terminated")
    assert last["reason"] == "StartError" and "/no/such/binary" in last["message"]
    wait_for(lambda: _waiting(api_client, namespace, "bad-limits").get("reason")
             == "CreateContainerError", what="CreateContainerError")
    assert "memory" in _waiting(api_client, namespace, "bad-limits")["message"].lower()
    wait_for(lambda: container_status(api_client, namespace, "not-alive").get("restartCount", 0)
             >= 1, what="liveness restarts")
    st = status(api_client, namespace, "not-ready")
    assert st["phase"] == "Running" and not st["containerStatuses"][0]["ready"]
    ready = {c["type"]: c for c in st["conditions"]}["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"

    # the kubelet keeps serving its healthy pod
    assert running(api_client, namespace, "healthy")
    assert container_status(api_client, namespace, "healthy")["ready"]
    assert kubectl("logs", "healthy", "-n", namespace).stdout == "alive\n"

    # and every failure left an event saying why
    ev = {name: _events(api_client, namespace, name) for name in
          ("no-image", "never-pull", "bad-command", "bad-limits", "not-ready", "not-alive")}
    assert any(r == "Failed" and "Failed to pull image" in m for _, r, m in ev["no-image"])
    assert any(r == "ErrImageNeverPull" for _, r, m in ev["never-pull"])
    assert any(r == "Failed" and "/no/such/binary" in m for _, r, m in ev["bad-command"])
    assert any(r == "Failed" and "memory" in m.lower() for _, r, m in ev["bad-limits"])
    assert any(r == "Unhealthy" and m.startswith("Readiness probe failed: dial tcp")
               for _, r, m in ev["not-ready"])
    assert any(r == "Unhealthy" and m.startswith("Liveness probe failed: Get")
               for _, r, m in ev["not-alive"])
    assert any(r == "Killing" and "failed liveness probe, will be restarted" in m
               for _, r, m in ev["not-alive"])
    table = kubectl("get", "pods", "-n", namespace).stdout
    assert "CreateContainerError" in table and "ErrImageNeverPull" in table
    assert "Traceback" not in node.log()


def test_startup_probe_holds_back_liveness_and_readiness(node, api_client, namespace):
    n = node.node_name
    slow = _pod("slow-starter", n, {
        "command": ["sh", "-c", "sleep 2; touch /tmp/up; sleep 3600"],
        "startupProbe": {"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 1,
                         "failureThreshold": 20},
        "livenessProbe": {"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 1,
                          "failureThreshold": 1}})
    never = _pod("never-starts", n, {
        "command": ["sleep", "3600"],
        "startupProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1,
                         "failureThreshold": 2}})
    api_client.create("pods", slow, namespace)
    api_client.create("pods", never, namespace)
    wait_for(lambda: running(api_client, namespace, "slow-starter"), what="Running")
    cs = container_status(api_client, namespace, "slow-starter")
    assert not cs["started"] and not cs["ready"]       # not started yet: liveness waits too
    wait_for(lambda: container_status(api_client, namespace, "slow-starter").get("started")
             and container_status(api_client, namespace, "slow-starter").get("ready"),
             what="started and ready")
    assert container_status(api_client, namespace, "slow-starter")["restartCount"] == 0
    wait_for(lambda: container_status(api_client, namespace, "never-starts")
             .get("restartCount", 0) >= 1, what="killed for failing its startup probe")
    assert any(r == "Killing" and "failed startup probe, will be restarted" in m
               for _, r, m in _events(api_client, namespace, "never-starts"))


# ---------------------------------------------------------------------- Docker goes away
class DockerProxy:
    """A Unix-socket proxy to the Docker socket that we can cut and restore.

    The kubelet talks to Docker through it (``--docker-endpoint``), so the test
    can take "Docker" away from one kubelet without touching the real daemon
    that everyone on this machine shares.
    """

    def __init__(self, path: str, target: str = DOCKER_SOCK):
        self.path, self.target = path, target
        self._listener = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(self.path)
        self._listener.listen(64)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self._conns.clear()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _ready(api, node_name):
    conds = (api.get("nodes", node_name).get("status") or {}).get("conditions") or []
    return next((c for c in conds if c["type"] == "Ready"), {})


def test_docker_lost_makes_node_not_ready_and_it_recovers(start_kubelet, api_client, namespace,
                                                           tmp_path_factory):
    sock = str(tmp_path_factory.mktemp("docker") / "docker.sock")
    proxy = DockerProxy(sock)
    proxy.start()
    try:
        k = start_kubelet("lost", "--docker-endpoint", f"unix://{sock}")
        api_client.create("pods", _pod("steady", k.node_name, {"command": ["sleep", "3600"]}),
                          namespace)
        wait_for(lambda: running(api_client, namespace, "steady"), what="Running")
        cid = container_status(api_client, namespace, "steady")["containerID"]

        proxy.stop()
        ready = wait_for(lambda: (_ready(api_client, k.node_name).get("status") == "False")
                         and _ready(api_client, k.node_name), what="NotReady")
        assert ready["reason"] == "KubeletNotReady"
        assert ready["message"].startswith("container runtime is down")
        # the lease still renews: the kubelet is alive, only its runtime is not
        proxy.start()
        wait_for(lambda: _ready(api_client, k.node_name).get("status") == "True", what="Ready again")
        time.sleep(1.5)
        cs = container_status(api_client, namespace, "steady")
        assert cs["containerID"] == cid and cs["restartCount"] == 0 and cs["ready"]
        assert "container runtime is up" in k.log()
    finally:
        proxy.stop()
