"""Syncing one pod: make the containers on this node match the pod spec, one step at a time.

The kubelet's ``SyncPod`` (kuberuntime_manager.go).  What to do is decided by
the pure ``compute_pod_actions`` (podactions.py); this module carries it out --
runtime calls, events, back-offs, status -- in Kubernetes' order:

1. **admission** (first time only): can this node run the pod at all?  Here:
   devices from the device manager (``nvidia.com/gpu``); a refusal fails the
   pod with reason ``UnexpectedAdmissionError``.
   **volumes** (every sync, volumemanager.py): set up, or refreshed from their
   ConfigMaps/Secrets; one that cannot be keeps the pod ContainerCreating
   (FailedMount) and the sync is tried again.
2. **sandbox**: the pause container holding the pod's network namespace (and
   so its IP).  If it is gone, every container of the pod is restarted in a new one.
3. **init containers**, one at a time, each must exit 0 before the next starts.
4. **app containers**: start what is missing; restart what exited, if the
   ``restartPolicy`` says so and the crash back-off allows it; kill what a
   liveness probe condemned.
5. **status**: computed from what the runtime now reports, written if changed.

After a step that changes what the runtime has (a new sandbox, an init container
that finished at once) the actions are computed again from a fresh look.

And, for a pod being deleted, ``terminate``: SIGTERM, wait the grace period,
SIGKILL, remove the containers, release devices, delete the pod object.

Each sync returns how long the pod may sleep before it needs looking at again
(a back-off running out, an active deadline, or the periodic resync).
"""
from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from dataclasses import dataclass, field

from ..client import errors as api_errors
from . import podstatus
from .backoff import Backoff, format_duration
from .events import container_field_path, pod_ref
from .podview import PodView
from .images import ImageManager
from .podactions import (
    ContainerStep, PodActions, active_deadline_left, compute_pod_actions, restart_step,
)
from .runtime.base import (
    KIND_APP, KIND_INIT, STATE_EXITED, STATE_RUNNING, ContainerInfo, ContainerNotFound,
    ContainerRuntimeError, ContainerStartError, rfc3339,
)
from .startoptions import start_options

log = logging.getLogger(__name__)

MIN_GRACE_SECONDS = 2          # a force-deleted pod still gets this long (as the kubelet does)
KEEP_DEAD_INSTANCES = 1        # exited instances kept per container besides the newest


def _now() -> str:
    return rfc3339(_dt.datetime.now(_dt.timezone.utc))


def pod_full_name(pod: dict) -> str:
    """``name_namespace(uid)``, how the kubelet names a pod in messages."""
    m = pod["metadata"]
    return f"{m['name']}_{m.get('namespace', 'default')}({m['uid']})"


def grace_period(pod: dict) -> int:
    """How long containers get between SIGTERM and SIGKILL when the pod goes."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    grace = meta.get("deletionGracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    return max(MIN_GRACE_SECONDS, int(grace or 0))


@dataclass
class _PodState:
    """What the kubelet remembers about a pod between syncs (lost on restart, on purpose)."""
    start_time: str | None = None
    admitted: bool = False
    allocation: dict = field(default_factory=dict)    # container -> device allocation
    waiting: dict = field(default_factory=dict)       # container -> (reason, message)
    pull_failed: dict = field(default_factory=dict)   # image -> time of the failed pull
    sandbox_ip: tuple = ("", "")                      # (sandbox id, its IP)
    volumes: object = None                            # MountedVolumes of the last sync


class PodSyncer:
    def __init__(self, *, runtime, client, status_manager, recorder, prober, node_name: str,
                 host_ip: str, backoff_base: float = 10.0, backoff_max: float = 300.0,
                 device_manager=None, gpu_mode: str = "runtime", resync: float = 60.0,
                 volumes=None):
        self.runtime = runtime
        self.client = client
        self.status = status_manager
        self.recorder = recorder
        self.prober = prober
        self.node_name = node_name
        self.host_ip = host_ip
        self.device_manager = device_manager
        self.gpu_mode = gpu_mode
        self.resync = resync
        self.volumes = volumes               # VolumeManager (None on a hollow node)
        self.crash_backoff = Backoff(backoff_base, backoff_max)
        self.images = ImageManager(runtime, recorder, backoff_base, backoff_max)
        self.create_backoff = Backoff(backoff_base, backoff_max)
        self._lock = threading.Lock()
        self._pods: dict[str, _PodState] = {}
        self.scheme = getattr(runtime, "name", "docker")

    def _state(self, uid: str) -> _PodState:
        with self._lock:
            st = self._pods.get(uid)
            if st is None:
                st = self._pods[uid] = _PodState()
            return st

    def forget(self, uid: str) -> None:
        with self._lock:
            self._pods.pop(uid, None)
        self.crash_backoff.forget_prefix((uid,))
        self.create_backoff.forget_prefix((uid,))
        self.status.forget(uid)

    def status_pod(self, pod: dict) -> dict:
        """The pod with the newest status we know (ours may be newer than the informer's)."""
        last = self.status.last(pod["metadata"]["uid"])
        return dict(pod, status=last) if last is not None else pod

    # ================================================================== sync
    def sync_pod(self, pod: dict) -> float:
        """One step towards the pod spec; returns the seconds until the next sync is due."""
        spec = pod.get("spec") or {}
        uid = pod["metadata"]["uid"]
        st = self._state(uid)
        current = self.status_pod(pod)
        if podstatus.is_terminal(current):
            self._stop_running(pod, self.runtime.list_containers(uid))
            return self.resync
        if not st.start_time:
            st.start_time = (current.get("status") or {}).get("startTime") or _now()

        if not st.admitted:
            refused = self._admit(pod, st)
            if refused:
                return self.resync
        deadline_left = active_deadline_left(pod, st.start_time, time.time())
        if deadline_left is not None and deadline_left <= 0:
            self._fail(pod, st, "DeadlineExceeded",
                       "Pod was active on the node longer than the specified deadline")
            return self.resync

        view = PodView(self.runtime.list_containers(uid))
        if not (current.get("status") or {}).get("containerStatuses") and not view.has_run():
            # First sight: say at once that we are on it (Pending, ContainerCreating).
            self._write_status(pod, view, st, "")
        if self.volumes is not None:
            st.volumes = self.volumes.mount(pod)
            if st.volumes is None:       # FailedMount: no sandbox until every volume is there
                st.waiting = {c["name"]: ("ContainerCreating", None)
                              for c in spec.get("containers") or []}
                self._write_status(pod, view, st, "")
                return self.create_backoff.initial
        waits = [self.resync]
        if deadline_left is not None:
            waits.append(deadline_left)
        st.waiting = {}
        policy = spec.get("restartPolicy", "Always")
        actions = self._compute(pod, view)

        # ---- 1. the sandbox
        if actions.pod_over:
            # A pod that must not restart does not get a new sandbox: it is over.
            self._stop_running(pod, view.all)
            self._release_devices(uid)
            view = PodView(self.runtime.list_containers(uid))
            self._write_status(pod, view, st, "", terminal=True)
            return self.resync
        if actions.create_sandbox:
            view, delay = self._new_sandbox(pod, view, actions, st)
            if view is None:
                return delay
            actions = self._compute(pod, view)
        sandbox = view.sandbox
        pod_ip = self._pod_ip(pod, sandbox, st)

        # ---- 2. init containers, in order
        changed = False
        while actions.next_init is not None:
            c, last_exit = actions.next_init.container, actions.next_init.last_exit
            if last_exit is not None:
                wait = self._in_crash_backoff(pod, c, last_exit, st)
                if wait is not None:
                    waits.append(wait)
                    break
            wait = self._start(pod, c, KIND_INIT, view, sandbox, st)
            changed = True
            if wait is not None:
                waits.append(wait)
                break
            # A quick init container may be done already: then go on with the next.
            view = PodView(self.runtime.list_containers(uid))
            inst = view.latest_in_sandbox(c["name"])
            if not (inst is not None and inst.state == STATE_EXITED and inst.exit_code == 0):
                break
            actions = self._compute(pod, view)

        # ---- 3. app containers
        if actions.init_done:
            for step in actions.containers:
                view, wait, did = self._carry_out(pod, step, policy, view, sandbox, st)
                changed = changed or did
                if wait is not None:
                    waits.append(wait)

        # ---- 4. status, probes, clean-up
        if changed:
            view = PodView(self.runtime.list_containers(uid))
            self._gc_instances(view)
        status = self._pod_status(pod, view, st, pod_ip)
        if status["phase"] in podstatus.TERMINAL_PHASES:
            self._stop_running(pod, view.all)       # done: stop the sandbox too
            self.prober.remove_pod(uid)
            self._release_devices(uid)
            view = PodView(self.runtime.list_containers(uid))
            status = self._pod_status(pod, view, st, pod_ip)
        self.status.set_status(pod, status)
        if status["phase"] not in podstatus.TERMINAL_PHASES:
            running = {i.container_name: i for i in view.running_apps()}
            self.prober.sync_pod(self.status_pod(pod), running, pod_ip)
        return max(0.05, min(waits))

    def _release_devices(self, uid: str) -> None:
        """Give a finished pod's devices back -- before its terminal status is written: the
        scheduler frees the pod's GPUs when it sees that status and may bind a new pod here."""
        if self.device_manager is not None:
            try:
                self.device_manager.release(uid)
            except Exception as e:  # noqa: BLE001
                log.warning("releasing the devices of pod %s failed: %s", uid[:8], e)

    # ------------------------------------------------------------------ admission
    def _admit(self, pod: dict, st: _PodState) -> bool:
        """Ask the device manager for devices; returns True when the pod was refused."""
        if self.device_manager is not None:
            try:
                st.allocation = self.device_manager.allocate(pod) or {}
            except Exception as e:  # noqa: BLE001 - DeviceAllocationError and friends
                reason = getattr(e, "reason", None) or "UnexpectedAdmissionError"
                message = getattr(e, "message", None) or str(e)
                self._fail(pod, st, reason, message)
                return True
        st.admitted = True
        return False

    def _fail(self, pod: dict, st: _PodState, reason: str, message: str) -> None:
        """Give up on a pod: stop what runs, Failed with reason and message, an event."""
        uid = pod["metadata"]["uid"]
        self._stop_running(pod, self.runtime.list_containers(uid))
        self.prober.remove_pod(uid)
        self._release_devices(uid)
        current = self.status_pod(pod)
        status = podstatus.failed_status(current, reason, message, self.host_ip)
        if st.start_time:
            status["startTime"] = status.get("startTime") or st.start_time
        self.recorder.warning(pod_ref(pod), reason, message)
        self.status.set_status(pod, status)

    # ------------------------------------------------------------------ sandbox
    def _new_sandbox(self, pod: dict, view: PodView, actions: PodActions, st: _PodState):
        """Create the pod's (next) sandbox: returns (new view, 0) or (None, retry delay)."""
        uid = pod["metadata"]["uid"]
        if actions.kill_pod:
            self.recorder.normal(pod_ref(pod), "SandboxChanged",
                                 "Pod sandbox changed, it will be killed and re-created.")
            # its containers lost their network namespace: they restart in the new one
            for info in view.running():
                self.runtime.stop_container(info.id, grace_period(pod))
        attempt = actions.sandbox_attempt
        key = (uid, "POD")
        try:
            self.runtime.create_sandbox(pod, attempt)
        except ContainerStartError as e:
            delay = self.create_backoff.next(key, time.time())
            self.recorder.warning(pod_ref(pod), "FailedCreatePodSandBox",
                                  f"Failed to create pod sandbox: {e.message}")
            st.waiting = {c["name"]: ("ContainerCreating", None)
                          for c in (pod.get("spec") or {}).get("containers") or []}
            self._write_status(pod, view, st, "")
            return None, delay
        self.create_backoff.forget(key)
        for s in view.sandboxes:
            self.runtime.remove_container(s.id)
        return PodView(self.runtime.list_containers(uid)), 0.0

    def _pod_ip(self, pod: dict, sandbox: ContainerInfo | None, st: _PodState) -> str:
        if (pod.get("spec") or {}).get("hostNetwork"):
            return self.host_ip
        if sandbox is None or sandbox.state != STATE_RUNNING:
            return ""
        if st.sandbox_ip[0] != sandbox.id:
            st.sandbox_ip = (sandbox.id, self.runtime.sandbox_ip(sandbox.id))
        return st.sandbox_ip[1]

    # ------------------------------------------------------------------ containers
    def _compute(self, pod: dict, view: PodView) -> PodActions:
        """The pure decision (podactions.py), with the prober's verdicts and our newest status."""
        return compute_pod_actions(self.status_pod(pod), view,
                                   lambda name, cid: self.prober.failed(pod, name, cid))

    def _carry_out(self, pod: dict, step: ContainerStep, policy: str, view: PodView,
                   sandbox: ContainerInfo, st: _PodState) -> tuple[PodView, float | None, bool]:
        """Kill / remove / (re)start one app container: (view, retry delay or None, changed?)."""
        c, changed = step.container, False
        if step.kill is not None:
            self._kill(pod, c, step.kill, step.kill_reason)
            changed = True
            try:
                inst = self.runtime.inspect(step.kill.id)
            except ContainerNotFound:
                inst = None
            # Its exit code is known now: does the restart policy want it back?
            step = restart_step(c, inst, view.previous(c["name"]), policy)
            if step is None:
                return view, None, changed
        if step.remove is not None:
            self.runtime.remove_container(step.remove.id)
            view = PodView([i for i in view.all if i.id != step.remove.id])
        if not step.start:
            return view, None, changed
        if step.last_exit is not None:
            wait = self._in_crash_backoff(pod, c, step.last_exit, st)
            if wait is not None:
                return view, wait, changed
        return view, self._start(pod, c, KIND_APP, view, sandbox, st), True

    def _in_crash_backoff(self, pod: dict, c: dict, inst: ContainerInfo,
                          st: _PodState) -> float | None:
        """None: restart now.  Else the container waits (CrashLoopBackOff) that many seconds."""
        key = (pod["metadata"]["uid"], c["name"])
        finished = inst.finished_at.timestamp() if inst.finished_at else time.time()
        if self.crash_backoff.in_backoff_since(key, finished):
            delay = self.crash_backoff.get(key)
            st.waiting[c["name"]] = (
                "CrashLoopBackOff", f"back-off {format_duration(delay)} restarting failed "
                                    f"container={c['name']} pod={pod_full_name(pod)}")
            self.recorder.warning(pod_ref(pod, container_field_path(pod, c["name"])), "BackOff",
                                  f"Back-off restarting failed container {c['name']} in pod "
                                  f"{pod_full_name(pod)}")
            return self.crash_backoff.remaining(key, finished) + 0.05
        self.crash_backoff.next(key, finished)
        return None

    def _start(self, pod: dict, c: dict, kind: str, view: PodView, sandbox: ContainerInfo,
               st: _PodState) -> float | None:
        """Pull, create and start one container; None on success, else a retry delay."""
        name = c["name"]
        ref = pod_ref(pod, container_field_path(pod, name))
        wait = self.images.ensure_image(pod, c, st)
        if wait is not None:
            return wait
        key = (pod["metadata"]["uid"], name)
        count = view.next_restart_count(name, self.status_pod(pod).get("status") or {})
        pre_start = getattr(self.device_manager, "pre_start_container", None)
        if pre_start is not None and st.allocation.get(name):
            pre_start(pod["metadata"]["uid"], name)      # plugins that asked for it
        try:
            opts = start_options(pod, c, allocation=st.allocation.get(name),
                                 gpu_mode=self.gpu_mode, volumes=self.volumes, mounted=st.volumes,
                                 recorder=self.recorder, node_name=self.node_name,
                                 pod_ip=self._pod_ip(pod, sandbox, st), host_ip=self.host_ip)
            self.runtime.start_container(pod, c, sandbox.id, count, kind, **opts)
        except ContainerStartError as e:
            st.waiting[name] = (e.reason, e.message)
            self.recorder.warning(ref, "Failed", f"Error: {e.message}")
            if e.container_id:
                return None          # it exists (exited, StartError): the crash back-off applies
            if e.reason == "CreateContainerConfigError":
                return self.create_backoff.initial   # a ConfigMap may appear: retry steadily
            return self.create_backoff.next(key, time.time())
        self.create_backoff.forget(key)
        self.recorder.normal(ref, "Created", f"Created container: {name}")
        self.recorder.normal(ref, "Started", f"Started container {name}")
        return None

    def _kill(self, pod: dict, c: dict, inst: ContainerInfo, why: str) -> None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        for probe in ("livenessProbe", "startupProbe"):
            if (c.get(probe) or {}).get("terminationGracePeriodSeconds") is not None:
                grace = c[probe]["terminationGracePeriodSeconds"]
        self.recorder.normal(pod_ref(pod, container_field_path(pod, c["name"])), "Killing", why)
        self.runtime.stop_container(inst.id, max(0, int(grace)))

    def _stop_running(self, pod: dict, infos: list[ContainerInfo]) -> None:
        """Stop whatever of this pod still runs (apps first, with grace; sandbox last)."""
        running = [i for i in infos if i.state == STATE_RUNNING]
        if not running:
            return
        for i in running:
            if not i.is_sandbox:
                self.recorder.normal(pod_ref(pod, container_field_path(pod, i.container_name)),
                                     "Killing", f"Stopping container {i.container_name}")
        self.runtime.stop_pod(pod["metadata"]["uid"], grace_period(pod))

    def _gc_instances(self, view: PodView) -> None:
        """Remove exited instances beyond the newest + KEEP_DEAD_INSTANCES (as the kubelet's GC)."""
        names = {i.container_name for i in view.all if not i.is_sandbox}
        for name in names:
            for old in view.instances(name)[1 + KEEP_DEAD_INSTANCES:]:
                if old.state != STATE_RUNNING:
                    try:
                        self.runtime.remove_container(old.id)
                    except ContainerRuntimeError as e:
                        log.debug("gc of %s failed: %s", old.id[:12], e)

    # ------------------------------------------------------------------ status
    def _write_status(self, pod: dict, view: PodView, st: _PodState, pod_ip: str,
                      terminal: bool = False) -> None:
        self.status.set_status(pod, self._pod_status(pod, view, st, pod_ip, terminal))

    def _pod_status(self, pod: dict, view: PodView, st: _PodState, pod_ip: str,
                    terminal: bool = False) -> dict:
        current = self.status_pod(pod)
        return podstatus.generate_pod_status(
            current, view, waiting=st.waiting,
            ready=lambda name, cid: self.prober.is_ready(pod, name, cid),
            started=lambda name, cid: self.prober.is_started(pod, name, cid),
            pod_ip=pod_ip or (current.get("status") or {}).get("podIP", ""),
            host_ip=self.host_ip, start_time=st.start_time, terminal=terminal,
            scheme=self.scheme)

    # ================================================================== terminate
    def terminate(self, pod: dict, removed: bool) -> bool:
        """Stop and remove a pod's containers; then let the API object go.

        ``removed``: the pod is already gone from the API (force-deleted, or
        deleted while the kubelet was down).  Returns True when all is done.
        """
        meta = pod["metadata"]
        uid = meta["uid"]
        self.prober.remove_pod(uid)
        infos = self.runtime.list_containers(uid)
        self._stop_running(pod, infos)
        self._release_devices(uid)
        st = self._state(uid)
        if not removed and infos:
            view = PodView(self.runtime.list_containers(uid))
            self._write_status(pod, view, st, "", terminal=True)
        self.runtime.remove_pod(uid)
        if not removed:
            try:
                self.client.delete("pods", meta["name"], meta.get("namespace", "default"),
                                   grace_period_seconds=0, preconditions={"uid": uid})
            except api_errors.NotFound:
                pass
            except api_errors.Conflict:
                pass                 # a new pod with the same name: not ours to delete
        if removed:
            self.forget(uid)
        return True
