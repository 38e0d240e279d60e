"""What one sync of a pod must do, decided from the pod spec and what the runtime has.

This is upstream's ``computePodActions`` (kuberuntime_manager.go): a *pure*
function from (pod, PodView) to ``PodActions`` -- no runtime calls, no events,
no clocks -- so every rule of the pod lifecycle can be read, and tested, on plain
dicts.  ``PodSyncer`` (podsync.py) then carries the actions out.

The rules, in Kubernetes' order:

1. A pod that is over (Succeeded/Failed) or being deleted: kill everything,
   start nothing.
2. **sandbox** dead or missing: kill the pod and create a new sandbox -- all its
   containers restart in it -- unless ``restartPolicy: Never`` and containers have
   already run: then the pod is over.
3. **init containers**, in order: the first that has not exited 0 in the current
   sandbox is the next to start (again, after a failure, unless the policy is
   Never: then the pod has failed).  App containers wait until all are done.
4. **app containers**: a running one whose probe failed or whose spec changed
   (hash label) is killed; an exited one is restarted if the ``restartPolicy``
   says so; a missing one is started; one created but never started is removed
   and started again.

What is *not* decided here, but when the actions are carried out, as upstream
does: the crash-loop and image-pull back-offs (they need the clock), and, for a
container killed now, whether to restart it (that needs its exit code).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Callable, Optional

from .podstatus import TERMINAL_PHASES
from .podview import PodView
from .runtime.base import STATE_CREATED, STATE_EXITED, STATE_RUNNING, ContainerInfo, container_hash

# probe_failed(container name, container id) -> "liveness" | "startup" | None
ProbeFailed = Callable[[str, str], Optional[str]]


def should_restart(restart_policy: str, info: ContainerInfo) -> bool:
    """Does the restart policy want this exited container run again?"""
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return info.exit_code != 0
    return False


def active_deadline_left(pod: dict, start_time: str | None, now: float) -> float | None:
    """Seconds left of ``activeDeadlineSeconds`` (counted from the pod's start), or None."""
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    if deadline is None or not start_time:
        return None
    try:
        started = _dt.datetime.strptime(start_time, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=_dt.timezone.utc).timestamp()
    except ValueError:
        return None
    return started + float(deadline) - now


@dataclass
class ContainerStep:
    """What to do with one app container, in this order: kill, remove, start."""
    container: dict
    kill: Optional[ContainerInfo] = None     # the running instance to kill ...
    kill_reason: str = ""                    # ... and why (the Killing event's message)
    remove: Optional[ContainerInfo] = None   # created but never started: start over
    start: bool = False
    last_exit: Optional[ContainerInfo] = None  # the exited instance a restart replaces
    #                                          (its finish time drives the crash back-off)


@dataclass
class InitStep:
    """The next init container to start, and the failed run it replaces (if any)."""
    container: dict
    last_exit: Optional[ContainerInfo] = None


@dataclass
class PodActions:
    kill_pod: bool = False          # stop every container of the pod (and its sandbox)
    pod_over: bool = False          # ... because the pod is done: start nothing, ever again
    create_sandbox: bool = False
    sandbox_attempt: int = 0        # the new sandbox's number (its "restart count")
    next_init: Optional[InitStep] = None
    init_failed: bool = False       # an init container failed and restartPolicy is Never
    init_done: bool = False         # every init container exited 0: app containers may run
    containers: list[ContainerStep] = field(default_factory=list)

    def containers_to_start(self) -> list[str]:
        return [s.container["name"] for s in self.containers if s.start]

    def containers_to_kill(self) -> dict[str, str]:
        return {s.container["name"]: s.kill_reason for s in self.containers if s.kill}


def _no_probe_failed(name: str, container_id: str) -> None:
    return None


def compute_pod_actions(pod: dict, view: PodView,
                        probe_failed: ProbeFailed = _no_probe_failed) -> PodActions:
    """What must change for the runtime's containers (``view``) to match the pod spec."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy", "Always")
    if (pod.get("metadata") or {}).get("deletionTimestamp") \
            or (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return PodActions(kill_pod=True, pod_over=True)

    # ---- the sandbox
    sandbox = view.sandbox
    if sandbox is None or sandbox.state != STATE_RUNNING:
        if sandbox is not None and policy == "Never" and view.has_run():
            return PodActions(kill_pod=True, pod_over=True)
        return PodActions(kill_pod=sandbox is not None, create_sandbox=True,
                          sandbox_attempt=sandbox.restart_count + 1 if sandbox is not None else 0)

    # ---- init containers, one at a time
    actions = PodActions()
    for c in spec.get("initContainers") or []:
        inst = view.latest_in_sandbox(c["name"])
        if inst is not None and inst.state == STATE_EXITED and inst.exit_code == 0:
            continue                                  # done
        if inst is not None and inst.state == STATE_RUNNING:
            return actions                            # still at work
        if inst is not None and inst.state == STATE_EXITED:
            if policy == "Never":
                actions.init_failed = True            # the pod has failed
                return actions
            actions.next_init = InitStep(c, last_exit=inst)
        else:
            actions.next_init = InitStep(c)
        return actions
    actions.init_done = True

    # ---- app containers
    for c in spec.get("containers") or []:
        inst = view.latest(c["name"])
        if inst is not None and inst.state == STATE_RUNNING:
            why = kill_reason(c, inst, probe_failed)
            if why is not None:
                actions.containers.append(ContainerStep(c, kill=inst, kill_reason=why))
            continue
        step = restart_step(c, inst, view.previous(c["name"]), policy)
        if step is not None:
            actions.containers.append(step)
    return actions


def kill_reason(c: dict, inst: ContainerInfo, probe_failed: ProbeFailed) -> str | None:
    """Why a running container must be killed (failed probe, changed spec), or None."""
    probe = probe_failed(c["name"], inst.id)
    if probe is not None:
        return f"Container {c['name']} failed {probe} probe, will be restarted"
    if inst.container_hash and inst.container_hash != container_hash(c):
        return f"Container {c['name']} definition changed, will be restarted"
    return None


def restart_step(c: dict, inst: ContainerInfo | None, previous: ContainerInfo | None,
                 policy: str) -> ContainerStep | None:
    """A container that is not running (``inst``: its newest instance, if any): start it?

    Also what is decided again for a container just killed, once its exit code is known.
    """
    remove = None
    if inst is not None and inst.state == STATE_CREATED:
        remove, inst = inst, previous      # created but never started (the kubelet died)
    if inst is not None and inst.state == STATE_EXITED:
        if not should_restart(policy, inst):
            return ContainerStep(c, remove=remove) if remove is not None else None
        return ContainerStep(c, remove=remove, start=True, last_exit=inst)
    return ContainerStep(c, remove=remove, start=True)
