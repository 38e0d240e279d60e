"""One proxy programs a host's netfilter at a time: a file lock per network namespace.

``minikube-py up`` starts one proxy per node, and all its nodes share this host's
network namespace, hence one set of iptables tables. Their rules would be the same
(Services are cluster-wide, and every endpoint is local to every node here), but two
proxies rewriting the same chains would still race: each sync flushes and rewrites
KUBE-SERVICES, and the one with the older informer state would undo the newer one's
work for a moment; the first to exit would also clean up rules the others need.

So the proxies of one host elect a programmer the simplest way: ``flock`` on a file
named after the network namespace. The holder syncs; the others keep their informers
warm and try the lock every second; when the holder exits (or dies: the kernel drops
the lock with the process) a standby takes over and syncs at once, with the same rules.
The lock file says who holds it, for the standbys' log lines.
"""
from __future__ import annotations

import fcntl
import json
import os

LOCK_DIRS = ("/run/minikube-py", "/tmp/minikube-py")


def netns_id() -> str:
    """The inode of this process's network namespace (same for all host processes)."""
    try:
        return str(os.stat("/proc/self/ns/net").st_ino)
    except OSError:
        return "host"


def lock_path() -> str:
    for d in LOCK_DIRS:
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK):
                return os.path.join(d, f"kube-proxy-netns-{netns_id()}.lock")
        except OSError:
            continue
    raise OSError(f"no writable directory for the proxy's host lock ({', '.join(LOCK_DIRS)})")


class HostLock:
    """``try_acquire()`` without blocking; ``holder()`` says who has it."""

    def __init__(self, identity: dict, path: str | None = None):
        self.path = path or lock_path()
        self.identity = identity
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(self.identity).encode())
        self._fd = fd
        return True

    def holder(self) -> dict:
        try:
            with open(self.path) as f:
                return json.loads(f.read() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
