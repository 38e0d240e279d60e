"""Interactive streams into Docker containers: exec, attach, and port-forward dials.

``kubectl exec``/``attach`` need the process's stdio live, both ways: Docker gives it
as a *hijacked* connection (``exec_start(socket=True)``, ``attach_socket``) -- the raw
socket to the engine, on which we write stdin (and half-close it at EOF) and read
stdout/stderr, multiplexed with 8-byte headers unless the process has a TTY.

``kubectl port-forward`` connects to a port *inside the pod*: like Kubernetes' own
runtimes we enter the sandbox's network namespace (``setns`` in a short-lived thread,
so only that thread moves) and connect to 127.0.0.1:port there -- a server that
listens on the pod's localhost only is reachable too. Where the kubelet cannot enter
namespaces (it runs in a container without the host's PIDs), it falls back to the
pod IP.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import socket
import struct
import threading
import time

import docker.errors

from .base import ContainerNotFound, ContainerRuntimeError

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
STDOUT, STDERR = 1, 2


class DockerProcess:
    """An exec'd or attached process: its stdio over Docker's hijacked socket."""

    def __init__(self, api, sock, tty: bool, exec_id: str | None = None,
                 container_id: str | None = None):
        self.api = api
        self._sock = sock                             # the SDK's wrapper: keeps the response alive
        self.raw = getattr(sock, "_sock", sock)
        self.raw.settimeout(None)
        self.tty = tty
        self.exec_id = exec_id
        self.container_id = container_id
        self._stdin_closed = False
        self._lock = threading.Lock()

    def output(self):
        """``(channel, bytes)`` until the process's output ends (1 stdout, 2 stderr)."""
        buf = bytearray()
        while True:
            try:
                data = self.raw.recv(65536)
            except OSError:
                data = b""
            if not data:
                return
            if self.tty:
                yield STDOUT, data
                continue
            buf += data
            while len(buf) >= 8:
                stream, size = buf[0], struct.unpack_from(">I", buf, 4)[0]
                if len(buf) < 8 + size:
                    break
                payload = bytes(buf[8:8 + size])
                del buf[:8 + size]
                yield (STDERR if stream == 2 else STDOUT), payload

    def write_stdin(self, data: bytes) -> None:
        with self._lock:
            if not self._stdin_closed:
                self.raw.sendall(data)

    def close_stdin(self) -> None:
        """EOF on the process's stdin: half-close our side of the engine's connection."""
        with self._lock:
            if not self._stdin_closed:
                self._stdin_closed = True
                with contextlib.suppress(OSError):
                    self.raw.shutdown(socket.SHUT_WR)

    def resize(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            return
        with contextlib.suppress(docker.errors.APIError):
            if self.exec_id:
                self.api.exec_resize(self.exec_id, height=height, width=width)
            else:
                self.api.resize(self.container_id, height=height, width=width)

    def exit_code(self) -> int | None:
        """The exec'd command's exit code (it lands a moment after the stream ends);
        0 for an attach, as the kubelet reports Success when an attach ends."""
        if not self.exec_id:
            return 0
        info = {}
        for _ in range(200):
            info = self.api.exec_inspect(self.exec_id)
            if not info.get("Running"):
                break
            time.sleep(0.01)
        return info.get("ExitCode")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._sock.close()
        with contextlib.suppress(OSError):
            self.raw.close()


def exec_process(runtime, container_id: str, command: list[str], stdin: bool, tty: bool
                 ) -> DockerProcess:
    """Start ``command`` in a running container with live stdio."""
    api = runtime.client.api
    try:
        exec_id = api.exec_create(container_id, list(command), stdin=stdin, stdout=True,
                                  stderr=True, tty=tty)["Id"]
        sock = api.exec_start(exec_id, socket=True, tty=tty)
    except docker.errors.NotFound as e:
        raise ContainerNotFound(container_id) from e
    except docker.errors.APIError as e:
        raise ContainerRuntimeError(str(e.explanation or e)) from e
    return DockerProcess(api, sock, tty, exec_id=exec_id)


def attach_process(runtime, container_id: str, stdin: bool) -> DockerProcess:
    """Attach to a container's main process (its stdin only if the pod asked for ``stdin``)."""
    api = runtime.client.api
    try:
        info = api.inspect_container(container_id)
        tty = bool((info.get("Config") or {}).get("Tty"))
        params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
        sock = api.attach_socket(container_id, params=params)
    except docker.errors.NotFound as e:
        raise ContainerNotFound(container_id) from e
    except docker.errors.APIError as e:
        raise ContainerRuntimeError(str(e.explanation or e)) from e
    return DockerProcess(api, sock, tty, container_id=container_id)


# ---------------------------------------------------------------- port-forward
def _connect_in_netns(pid: int, port: int, timeout: float) -> socket.socket:
    """Connect to 127.0.0.1:port inside the network namespace of process ``pid``."""
    result: dict = {}

    def run():
        libc = ctypes.CDLL(None, use_errno=True)
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the pod's network namespace failed")
            # This thread now lives in the pod's namespace; it ends right after, so it
            # never has to come back. The socket stays in the namespace it was made in.
            result["sock"] = socket.create_connection(("127.0.0.1", port), timeout)
        except OSError as e:
            result["error"] = e
        finally:
            os.close(target)

    t = threading.Thread(target=run, name="netns-dial", daemon=True)
    t.start()
    t.join(timeout + 1)
    if "sock" in result:
        result["sock"].settimeout(None)
        return result["sock"]
    raise result.get("error") or TimeoutError(f"connect to port {port} timed out")


def _is_process_of(pid: int, container_id: str) -> bool:
    """Is ``pid``, as we see it, the container's process? Not when the kubelet runs in
    a PID namespace of its own: Docker's PIDs are the host's, and the same number here
    may be another process (or none)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return container_id in f.read()
    except OSError:
        return False


def dial_pod_port(runtime, pod_uid: str, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection to ``port`` of the pod (see the module docstring)."""
    sandboxes = [c for c in runtime.list_containers(pod_uid)
                 if c.is_sandbox and c.state == "running"]
    if not sandboxes:
        raise OSError(f"no running sandbox for pod {pod_uid}")
    sandbox = runtime.inspect(sandboxes[0].id)
    if sandbox.pid and _is_process_of(sandbox.pid, sandbox.id):
        try:
            return _connect_in_netns(sandbox.pid, port, timeout)
        except PermissionError as e:
            log.debug("cannot enter the pod's network namespace (%s); using its IP", e)
    ip = runtime.sandbox_ip(sandbox.id)
    if not ip:
        raise OSError(f"pod {pod_uid} has no IP address")
    sock = socket.create_connection((ip, port), timeout)
    sock.settimeout(None)
    return sock
