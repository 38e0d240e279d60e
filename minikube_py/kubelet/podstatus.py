"""PodStatus from what the runtime reports: phase, conditions, containerStatuses.

This is the kubelet's ``generateAPIPodStatus`` and ``getPhase``, as pure
functions: given the pod, its containers as the runtime lists them (a
``PodView``), and what the last sync learned (why a container is waiting:
``CrashLoopBackOff``, ``ErrImagePull`` ...; what the probes say), return the
``status`` object the kubelet writes through ``pods/{name}/status``.

The phase is derived from container states, never stored in the runtime:

* **Pending**   -- init containers not done, or some container still waiting to start;
* **Running**   -- containers running (or stopped but going to be restarted);
* **Succeeded** -- all stopped with exit 0 and none will restart;
* **Failed**    -- all stopped, some with an error, and none will restart.
"""
from __future__ import annotations

import datetime as _dt

from ..api import conditions
from ..api.defaults import qos_class
from .podview import PodView
from .runtime.base import STATE_EXITED, STATE_RUNNING, ContainerInfo, rfc3339

TERMINAL_PHASES = ("Succeeded", "Failed")
CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                   "PodScheduled")


def _now() -> str:
    return rfc3339(_dt.datetime.now(_dt.timezone.utc))


def container_id(info: ContainerInfo | None, scheme: str = "docker") -> str | None:
    """The ``containerID`` Kubernetes shows: ``<runtime>://<id>``."""
    if info is None:
        return None
    return f"{scheme}://{info.id}"


def terminated_state(info: ContainerInfo, scheme: str = "docker") -> dict:
    """``{"terminated": {...}}`` for an exited container instance."""
    t = {"exitCode": info.exit_code if info.exit_code is not None else 0,
         "reason": info.reason or ("Completed" if info.exit_code == 0 else "Error"),
         "startedAt": rfc3339(info.started_at), "finishedAt": rfc3339(info.finished_at),
         "containerID": container_id(info, scheme)}
    if info.message:
        t["message"] = info.message
    return {"terminated": {k: v for k, v in t.items() if v is not None}}


def container_status(spec: dict, latest: ContainerInfo | None, previous: ContainerInfo | None,
                     waiting: tuple | None = None, ready: bool = False, started: bool = False,
                     default_waiting: str = "ContainerCreating", restart_count: int = 0,
                     scheme: str = "docker") -> dict:
    """One entry of ``containerStatuses``.

    ``waiting`` is (reason, message) when the last sync could not (re)start the
    container; it wins over an exited instance, which then shows as ``lastState``.
    """
    status = {"name": spec["name"], "image": spec.get("image", ""), "imageID": "",
              "ready": False, "restartCount": restart_count, "started": False,
              "state": {}, "lastState": {}}
    if latest is not None:
        status["restartCount"] = latest.restart_count
        status["imageID"] = latest.image_id or ""
        status["containerID"] = container_id(latest, scheme)
    if latest is not None and latest.state == STATE_RUNNING:
        status["state"] = {"running": {"startedAt": rfc3339(latest.started_at)}}
        status["ready"] = bool(ready)
        status["started"] = bool(started)
        if previous is not None and previous.state == STATE_EXITED:
            status["lastState"] = terminated_state(previous, scheme)
    elif latest is not None and latest.state == STATE_EXITED:
        if waiting:
            status["state"] = {"waiting": _waiting(*waiting)}
            status["lastState"] = terminated_state(latest, scheme)
        else:
            status["state"] = terminated_state(latest, scheme)
            if previous is not None and previous.state == STATE_EXITED:
                status["lastState"] = terminated_state(previous, scheme)
        if spec.get("_init") and latest.exit_code == 0:
            status["ready"] = True
    else:
        reason, message = waiting or (default_waiting, None)
        status["state"] = {"waiting": _waiting(reason, message)}
        if previous is not None and previous.state == STATE_EXITED:
            status["lastState"] = terminated_state(previous, scheme)
    return status


def _waiting(reason, message=None) -> dict:
    w = {"reason": reason}
    if message:
        w["message"] = message
    return w


# ---------------------------------------------------------------------- phase
def _counts(statuses: list[dict]) -> dict:
    c = {"running": 0, "waiting": 0, "stopped": 0, "succeeded": 0}
    for st in statuses:
        state = st.get("state") or {}
        if "running" in state:
            c["running"] += 1
        elif "terminated" in state:
            c["stopped"] += 1
            if state["terminated"].get("exitCode") == 0:
                c["succeeded"] += 1
        elif (st.get("lastState") or {}).get("terminated"):
            c["stopped"] += 1          # waiting to be restarted: it has run before
        else:
            c["waiting"] += 1
    return c


def init_done(init_statuses: list[dict]) -> tuple[bool, bool]:
    """(all init containers succeeded, one failed and stopped) from their statuses."""
    pending = failed = 0
    for st in init_statuses:
        state = st.get("state") or {}
        if "terminated" in state:
            if state["terminated"].get("exitCode") != 0:
                failed += 1
        elif "waiting" in state and (st.get("lastState") or {}).get("terminated"):
            if st["lastState"]["terminated"].get("exitCode") != 0:
                failed += 1
            else:
                pending += 1
        else:
            pending += 1
    return pending == 0 and failed == 0, failed > 0


def pod_phase(restart_policy: str, init_statuses: list[dict], statuses: list[dict],
              terminal: bool = False) -> str:
    """Kubernetes' getPhase. ``terminal``: the pod is being stopped for good (deleted)."""
    all_init_ok, init_failed = init_done(init_statuses)
    if init_failed and restart_policy == "Never":
        return "Failed"
    if terminal and not all_init_ok and not any("running" in (s.get("state") or {})
                                                for s in init_statuses + statuses):
        return "Failed"
    if not all_init_ok:
        return "Pending"
    c = _counts(statuses)
    if c["waiting"] > 0:
        if terminal:
            return "Failed"
        return "Pending"
    if c["running"] > 0:
        return "Running"
    if c["stopped"] > 0:
        if terminal:
            return "Succeeded" if c["stopped"] == c["succeeded"] else "Failed"
        if restart_policy == "Always":
            return "Running"
        if c["stopped"] == c["succeeded"]:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Failed" if terminal else "Pending"


# ---------------------------------------------------------------------- conditions
def condition(type_: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict:
    """A pod condition (api/conditions.py's shape) with the ``lastProbeTime: null`` pods carry."""
    return conditions.condition(type_, ok, reason or None, message or None, lastProbeTime=None)


def merge_conditions(new: list[dict], old: list[dict] | None, now: str | None = None) -> list[dict]:
    """Set lastTransitionTime: kept from the old condition when the status did not change.

    Conditions the kubelet does not own (e.g. DisruptionTarget) are carried over.
    """
    now = now or _now()
    old_by_type = {c.get("type"): c for c in old or []}
    out = []
    for c in new:
        before = old_by_type.get(c["type"])
        if before is not None and before.get("status") == c["status"] \
                and before.get("lastTransitionTime"):
            c["lastTransitionTime"] = before["lastTransitionTime"]
        else:
            c["lastTransitionTime"] = now
        out.append(c)
    mine = {c["type"] for c in new}
    out += [c for c in old or [] if c.get("type") not in mine]
    order = {t: i for i, t in enumerate(CONDITION_ORDER)}
    out.sort(key=lambda c: order.get(c["type"], len(order)))
    return out


def pod_conditions(phase: str, sandbox_ready: bool, init_statuses: list[dict],
                   statuses: list[dict]) -> list[dict]:
    conds = [condition("PodReadyToStartContainers", sandbox_ready)]
    not_init = [s["name"] for s in init_statuses
                if not ("terminated" in (s.get("state") or {})
                        and s["state"]["terminated"].get("exitCode") == 0)]
    if phase == "Succeeded" and init_statuses:
        not_init = []
    conds.append(condition("Initialized", not not_init,
                           "ContainersNotInitialized" if not_init else None,
                           f"containers with incomplete status: [{' '.join(not_init)}]"
                           if not_init else None))
    unready = [s["name"] for s in statuses if not s.get("ready")]
    if phase in TERMINAL_PHASES:
        ready = condition("Ready", False, "PodCompleted")
        containers_ready = condition("ContainersReady", False, "PodCompleted")
    elif unready:
        msg = f"containers with unready status: [{' '.join(unready)}]"
        ready = condition("Ready", False, "ContainersNotReady", msg)
        containers_ready = condition("ContainersReady", False, "ContainersNotReady", msg)
    else:
        ready = condition("Ready", True)
        containers_ready = condition("ContainersReady", True)
    conds += [ready, containers_ready, condition("PodScheduled", True)]
    return conds


# ---------------------------------------------------------------------- the status
def generate_pod_status(pod: dict, view: PodView, *, waiting: dict | None = None,
                        ready=lambda name, cid: True, started=lambda name, cid: True,
                        pod_ip: str = "", host_ip: str = "", start_time: str | None = None,
                        terminal: bool = False, now: str | None = None,
                        scheme: str = "docker") -> dict:
    """The whole ``status`` of a pod.

    ``waiting``: {container name: (reason, message)} from the last sync.
    ``ready(name, container_id)`` / ``started(...)``: what readiness / startup
    probes say (True when the container has none).
    ``terminal``: the pod is being deleted and its containers were stopped.
    ``scheme``: the runtime's name, the prefix of containerIDs (``docker://...``).
    """
    waiting = waiting or {}
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    old_statuses = {s.get("name"): s for s in (old.get("containerStatuses") or [])
                    + (old.get("initContainerStatuses") or [])}

    def status_of(c: dict, is_init: bool, default_waiting: str) -> dict:
        name = c["name"]
        latest = view.latest_in_sandbox(name) if is_init else view.latest(name)
        previous = view.previous(name)
        if latest is not None and previous is not None and previous.id == latest.id:
            previous = None
        cid = latest.id if latest is not None else None
        known = (old_statuses.get(name) or {}).get("restartCount", 0)
        st = container_status(dict(c, _init=is_init), latest, previous, waiting.get(name),
                              ready=(not is_init) and ready(name, cid), started=started(name, cid),
                              default_waiting=default_waiting, restart_count=known,
                              scheme=scheme)
        if latest is not None and st["restartCount"] < known:
            st["restartCount"] = known      # instances removed behind our back
        if is_init:
            st["started"] = latest is not None and latest.state == STATE_RUNNING
        return st

    init_statuses = [status_of(c, True, "PodInitializing")
                     for c in spec.get("initContainers") or []]
    all_init_ok, _ = init_done(init_statuses)
    statuses = [status_of(c, False, "ContainerCreating" if all_init_ok else "PodInitializing")
                for c in spec.get("containers") or []]
    phase = pod_phase(spec.get("restartPolicy", "Always"), init_statuses, statuses, terminal)
    status: dict = {
        "phase": phase,
        "conditions": merge_conditions(
            pod_conditions(phase, view.sandbox_ready(), init_statuses, statuses),
            old.get("conditions"), now),
    }
    if host_ip:
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    status["startTime"] = start_time or old.get("startTime") or now or _now()
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    status["qosClass"] = old.get("qosClass") or qos_class(spec)
    return status


def failed_status(pod: dict, reason: str, message: str, host_ip: str = "",
                  now: str | None = None) -> dict:
    """The status of a pod the kubelet rejects or gives up on (admission, deadline)."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    status = dict(old)
    status.update({"phase": "Failed", "reason": reason, "message": message})
    conds = [condition("Ready", False, "PodCompleted"),
             condition("ContainersReady", False, "PodCompleted"),
             condition("PodScheduled", True)]
    status["conditions"] = merge_conditions(conds, old.get("conditions"), now)
    if host_ip:
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
    status.setdefault("startTime", now or _now())
    status["qosClass"] = old.get("qosClass") or qos_class(spec)
    return status


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES
