"""One pod as the runtime sees it: its sandboxes and every instance of every container.

The runtime gives a flat list of containers (``ContainerInfo``) labelled with
pod uid, container name and restart count.  A restarted container is a *new*
Docker container (``k8s_web_mypod_default_1a2b3c4d_1``, then ``..._2``); the old
one stays, exited, so ``kubectl logs --previous`` and ``lastState`` can show it.
``PodView`` sorts that list into what the kubelet asks about: the current
sandbox, the latest and the previous instance of a container.
"""
from __future__ import annotations

from .runtime.base import STATE_RUNNING, ContainerInfo


def _order(info: ContainerInfo):
    """Newest first: by restart count, then creation time."""
    created = info.created_at.timestamp() if info.created_at else 0.0
    return (info.restart_count, created)


class PodView:
    def __init__(self, infos: list[ContainerInfo]):
        self.all = list(infos)
        sandboxes = [i for i in infos if i.is_sandbox]
        self.sandboxes = sorted(sandboxes, key=_order, reverse=True)
        self._by_name: dict[str, list[ContainerInfo]] = {}
        for i in infos:
            if not i.is_sandbox:
                self._by_name.setdefault(i.container_name, []).append(i)
        for lst in self._by_name.values():
            lst.sort(key=_order, reverse=True)

    @property
    def sandbox(self) -> ContainerInfo | None:
        """The newest sandbox (running or not)."""
        return self.sandboxes[0] if self.sandboxes else None

    def sandbox_ready(self) -> bool:
        return self.sandbox is not None and self.sandbox.state == STATE_RUNNING

    def instances(self, name: str) -> list[ContainerInfo]:
        """Every instance of a container, newest first."""
        return self._by_name.get(name, [])

    def latest(self, name: str) -> ContainerInfo | None:
        lst = self._by_name.get(name)
        return lst[0] if lst else None

    def previous(self, name: str) -> ContainerInfo | None:
        lst = self._by_name.get(name)
        return lst[1] if lst and len(lst) > 1 else None

    def latest_in_sandbox(self, name: str) -> ContainerInfo | None:
        """The newest instance created since the current sandbox was (init containers
        run again in a new sandbox, so older runs do not count)."""
        latest = self.latest(name)
        sandbox = self.sandbox
        if latest is None or sandbox is None or sandbox.created_at is None \
                or latest.created_at is None:
            return latest
        return latest if latest.created_at >= sandbox.created_at else None

    def running(self) -> list[ContainerInfo]:
        return [i for i in self.all if i.state == STATE_RUNNING]

    def running_apps(self) -> list[ContainerInfo]:
        return [i for i in self.all if i.state == STATE_RUNNING and not i.is_sandbox]

    def has_run(self) -> bool:
        """Did any init/app container of this pod ever get created?"""
        return bool(self._by_name)

    def next_restart_count(self, name: str, old_status: dict) -> int:
        """The restart count of the container's next instance: one more than its newest
        instance's, or than the pod's status says (instances removed behind our back)."""
        latest = self.latest(name)
        if latest is not None:
            return latest.restart_count + 1
        for s in (old_status.get("containerStatuses") or []) + \
                (old_status.get("initContainerStatuses") or []):
            if s.get("name") == name and (s.get("state", {}).get("running")
                                          or s.get("state", {}).get("terminated")
                                          or s.get("lastState", {}).get("terminated")):
                return int(s.get("restartCount", 0)) + 1
        return 0
