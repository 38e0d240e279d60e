"""Probes: is a container alive, ready, started?  (exec, httpGet, tcpSocket)

* **liveness**  -- failing ``failureThreshold`` times in a row: the kubelet kills
  the container and the restart policy decides what happens next;
* **readiness** -- decides the container's ``ready`` (and so the pod's Ready
  condition, which Services use); a failing one never restarts anything;
* **startup**   -- until it succeeds, liveness and readiness are not run (slow
  starters are not killed); failing it is like failing liveness.

Each probe of each running container has its own worker thread that sleeps
``initialDelaySeconds``, then probes every ``periodSeconds``.  Results are kept
per container *instance* (container id): a restarted container starts over
(not ready, not started).  When a result flips, the pod worker is woken up to
act on it.

httpGet and tcpSocket probes connect from the node to the pod IP, as a real
kubelet does (the node can reach its pods' IPs on the Docker bridge).
"""
from __future__ import annotations

import logging
import socket
import threading
import time

import requests

from .events import container_field_path, pod_ref
from .runtime.base import ContainerRuntimeError, ExecTimeout

log = logging.getLogger(__name__)

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
PROBE_TYPES = (STARTUP, LIVENESS, READINESS)
_TITLE = {LIVENESS: "Liveness", READINESS: "Readiness", STARTUP: "Startup"}
MAX_OUTPUT = 1024     # probe output kept for events (as the kubelet truncates it)


# ---------------------------------------------------------------------- one probe
def resolve_port(port, container: dict) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"cannot find port {port!r} in container {container.get('name')!r}")


def run_probe(probe: dict, *, runtime, container_id: str, pod_ip: str,
              container: dict) -> tuple[bool, str]:
    """Run one probe once: (success, output or error message)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "exec" in probe:
            command = (probe["exec"] or {}).get("command") or []
            try:
                code, out = runtime.exec(container_id, command, timeout=timeout)
            except ExecTimeout:
                return False, f"command {command!r} timed out"
            text = out.decode(errors="replace")[:MAX_OUTPUT]
            return code == 0, text if code == 0 else \
                (text.strip() or f"command {command!r} exited with {code}")
        if "httpGet" in probe:
            hg = probe["httpGet"] or {}
            host = hg.get("host") or pod_ip
            port = resolve_port(hg.get("port"), container)
            scheme = (hg.get("scheme") or "HTTP").lower()
            path = hg.get("path") or "/"
            if not path.startswith("/"):
                path = "/" + path
            url = f"{scheme}://{host}:{port}{path}"
            headers = {"User-Agent": "kube-probe/1.32"}
            for h in hg.get("httpHeaders") or []:
                headers[h["name"]] = h.get("value", "")
            try:
                r = requests.get(url, headers=headers, timeout=timeout, verify=False,
                                 allow_redirects=True)
            except requests.Timeout:
                return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
            except requests.RequestException as e:
                reason = "connect: connection refused" if "refused" in str(e) else str(e)
                return False, f'Get "{url}": dial tcp {host}:{port}: {reason}'
            if 200 <= r.status_code < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {r.status_code}"
        if "tcpSocket" in probe:
            ts = probe["tcpSocket"] or {}
            host = ts.get("host") or pod_ip
            port = resolve_port(ts.get("port"), container)
            try:
                with socket.create_connection((host, port), timeout=timeout):
                    return True, ""
            except socket.timeout:
                return False, f"dial tcp {host}:{port}: i/o timeout"
            except OSError as e:
                reason = "connect: connection refused" if isinstance(e, ConnectionRefusedError) \
                    else str(e)
                return False, f"dial tcp {host}:{port}: {reason}"
        if "grpc" in probe:
            return False, "grpc probes are not supported by minikube-py"
        return False, "probe has no handler (exec, httpGet or tcpSocket)"
    except ValueError as e:
        return False, str(e)
    except ContainerRuntimeError as e:
        return False, str(e)


# ---------------------------------------------------------------------- workers
class _Worker(threading.Thread):
    """Probes one container instance with one probe until stopped."""

    def __init__(self, manager: "ProbeManager", pod: dict, container: dict, probe_type: str,
                 container_id: str, started_at: float, pod_ip: str):
        meta = pod["metadata"]
        super().__init__(daemon=True, name=f"probe-{probe_type}-{meta['name']}-{container['name']}")
        self.manager = manager
        self.pod = pod
        self.container = container
        self.probe_type = probe_type
        self.container_id = container_id
        self.started_at = started_at
        self.pod_ip = pod_ip
        self.key = (meta["uid"], container["name"], probe_type)
        self.stop_event = threading.Event()

    def run(self):
        probe = self.container[f"{self.probe_type}Probe"]
        period = max(1, int(probe.get("periodSeconds") or 10))
        success_needed = max(1, int(probe.get("successThreshold") or 1))
        failure_needed = max(1, int(probe.get("failureThreshold") or 3))
        delay = float(probe.get("initialDelaySeconds") or 0) - (time.time() - self.started_at)
        if delay > 0 and self.stop_event.wait(delay):
            return
        successes = failures = 0
        uid, name = self.key[0], self.key[1]
        while not self.stop_event.is_set():
            if self.probe_type != STARTUP and \
                    self.manager.result(uid, name, STARTUP, self.container_id) is not True \
                    and self.container.get("startupProbe"):
                self.stop_event.wait(min(period, 1))      # wait for the startup probe
                continue
            ok, output = run_probe(probe, runtime=self.manager.runtime,
                                   container_id=self.container_id, pod_ip=self.pod_ip,
                                   container=self.container)
            if self.stop_event.is_set():
                return
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self.manager.unhealthy(self.pod, name, self.probe_type, output)
            if ok and successes >= success_needed:
                self.manager.set_result(self.key, self.container_id, True)
                if self.probe_type == STARTUP:
                    return                              # started: done for this instance
            elif not ok and failures >= failure_needed:
                self.manager.set_result(self.key, self.container_id, False)
                if self.probe_type in (LIVENESS, STARTUP):
                    return                              # the container is going to be killed
            self.stop_event.wait(period)


class ProbeManager:
    """Starts and stops probe workers as containers come and go; keeps their results."""

    def __init__(self, runtime, on_change, recorder=None, enabled: bool = True):
        self.runtime = runtime
        self.on_change = on_change        # on_change(pod uid): wake that pod's worker
        self.recorder = recorder
        self.enabled = enabled
        self._lock = threading.Lock()
        self._workers: dict[tuple, _Worker] = {}
        self._results: dict[tuple, tuple[str, bool]] = {}   # key -> (container id, result)

    # ------------------------------------------------------------ results
    def result(self, uid: str, name: str, probe_type: str, container_id: str | None):
        """True / False, or None when this instance has no result yet."""
        with self._lock:
            got = self._results.get((uid, name, probe_type))
        if got is None or got[0] != container_id:
            return None
        return got[1]

    def set_result(self, key: tuple, container_id: str, value: bool) -> None:
        with self._lock:
            before = self._results.get(key)
            self._results[key] = (container_id, value)
        if before != (container_id, value):
            self.on_change(key[0])

    def unhealthy(self, pod: dict, name: str, probe_type: str, output: str) -> None:
        if self.recorder is not None:
            self.recorder.warning(pod_ref(pod, container_field_path(pod, name)), "Unhealthy",
                                  f"{_TITLE[probe_type]} probe failed: {output.strip()}")

    def is_ready(self, pod: dict, name: str, container_id: str | None) -> bool:
        """Readiness as the status shows it: started, and readiness passed (if probed)."""
        spec = _container(pod, name)
        if spec is None or not self.enabled:
            return True
        if not self.is_started(pod, name, container_id):
            return False
        if spec.get("readinessProbe"):
            return self.result(pod["metadata"]["uid"], name, READINESS, container_id) is True
        return True

    def is_started(self, pod: dict, name: str, container_id: str | None) -> bool:
        spec = _container(pod, name)
        if spec is None or not self.enabled or not spec.get("startupProbe"):
            return True
        return self.result(pod["metadata"]["uid"], name, STARTUP, container_id) is True

    def failed(self, pod: dict, name: str, container_id: str) -> str | None:
        """``liveness`` or ``startup`` when that probe says: kill this container."""
        uid = pod["metadata"]["uid"]
        for probe_type in (STARTUP, LIVENESS):
            if self.result(uid, name, probe_type, container_id) is False:
                return probe_type
        return None

    # ------------------------------------------------------------ workers
    def sync_pod(self, pod: dict, running: dict, pod_ip: str) -> None:
        """``running``: {container name: ContainerInfo} of the app containers running now."""
        if not self.enabled:
            return
        uid = pod["metadata"]["uid"]
        wanted = {}
        for c in (pod.get("spec") or {}).get("containers") or []:
            info = running.get(c["name"])
            if info is None:
                continue
            for probe_type in PROBE_TYPES:
                if c.get(f"{probe_type}Probe"):
                    wanted[(uid, c["name"], probe_type)] = (c, info)
        with self._lock:
            mine = {k: w for k, w in self._workers.items() if k[0] == uid}
        for key, worker in mine.items():
            if key not in wanted or wanted[key][1].id != worker.container_id:
                worker.stop_event.set()
                with self._lock:
                    self._workers.pop(key, None)
        for key, (c, info) in wanted.items():
            with self._lock:
                worker = self._workers.get(key)
            if worker is not None and worker.container_id == info.id:
                continue        # running, or finished for this instance (started / failed)
            started = info.started_at.timestamp() if info.started_at else time.time()
            worker = _Worker(self, pod, c, key[2], info.id, started, pod_ip)
            with self._lock:
                self._workers[key] = worker
            worker.start()

    def remove_pod(self, uid: str) -> None:
        with self._lock:
            keys = [k for k in self._workers if k[0] == uid]
            workers = [self._workers.pop(k) for k in keys]
            for k in [k for k in self._results if k[0] == uid]:
                del self._results[k]
        for w in workers:
            w.stop_event.set()

    def stop(self) -> None:
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for w in workers:
            w.stop_event.set()


def _container(pod: dict, name: str) -> dict | None:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == name:
            return c
    return None
