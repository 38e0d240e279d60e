"""compute_pod_actions: what one sync must do, decided on plain dicts (no Docker, no clock)."""
import datetime as dt

import pytest

from minikube_py.kubelet.podactions import compute_pod_actions, restart_step
from minikube_py.kubelet.podview import PodView
from minikube_py.kubelet.runtime.base import ContainerInfo, container_hash

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def info(name, state="running", restart=0, exit_code=None, kind="app", created=10, spec=None):
    t = T0 + dt.timedelta(seconds=created)
    return ContainerInfo(
        id=f"{name}-{restart}-{state}", name=f"k8s_{name}", pod_uid="uid-1", pod_name="p",
        namespace="default", container_name="POD" if kind == "sandbox" else name, kind=kind,
        restart_count=restart, state=state, exit_code=exit_code, started_at=t, created_at=t,
        finished_at=t + dt.timedelta(seconds=1) if state == "exited" else None,
        container_hash=container_hash(spec) if spec is not None else None)


def sandbox(state="running", restart=0):
    return info("POD", state, restart, kind="sandbox", created=0)


def pod(containers=("web",), init=(), policy="Always", **meta):
    return {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1", **meta},
            "spec": {"restartPolicy": policy,
                     "containers": [{"name": c, "image": "busybox"} for c in containers],
                     "initContainers": [{"name": c, "image": "busybox"} for c in init]},
            "status": {"phase": "Pending"}}


def actions(p, *infos, probe_failed=None):
    if probe_failed is None:
        return compute_pod_actions(p, PodView(list(infos)))
    return compute_pod_actions(p, PodView(list(infos)), probe_failed)


def test_new_pod_gets_a_sandbox_then_its_containers():
    a = actions(pod())
    assert a.create_sandbox and not a.kill_pod and a.sandbox_attempt == 0
    assert a.containers == [] and a.next_init is None
    # the next look (sandbox running): start the app container, nothing to kill
    a = actions(pod(("web", "side")), sandbox())
    assert not a.create_sandbox and a.init_done
    assert a.containers_to_start() == ["web", "side"] and a.containers_to_kill() == {}
    assert all(s.last_exit is None for s in a.containers)


def test_running_containers_are_left_alone():
    p = pod()
    a = actions(p, sandbox(), info("web", spec=p["spec"]["containers"][0]))
    assert a.init_done and a.containers == []


def test_dead_sandbox_kills_the_pod_and_makes_a_new_one():
    a = actions(pod(), sandbox("exited", restart=2), info("web", "exited", exit_code=137))
    assert a.kill_pod and a.create_sandbox and a.sandbox_attempt == 3 and not a.pod_over


def test_dead_sandbox_with_never_ends_the_pod():
    a = actions(pod(policy="Never"), sandbox("exited"), info("web", "exited", exit_code=0))
    assert a.kill_pod and a.pod_over and not a.create_sandbox
    # nothing ran yet: a Never pod still gets its (first) sandbox again
    a = actions(pod(policy="Never"), sandbox("exited"))
    assert a.create_sandbox and not a.pod_over


@pytest.mark.parametrize("policy,exit_code,restart", [
    ("Always", 0, True), ("Always", 1, True),
    ("OnFailure", 0, False), ("OnFailure", 1, True),
    ("Never", 0, False), ("Never", 1, False),
])
def test_exited_container_follows_the_restart_policy(policy, exit_code, restart):
    dead = info("web", "exited", restart=2, exit_code=exit_code)
    a = actions(pod(policy=policy), sandbox(), dead)
    if restart:
        assert a.containers_to_start() == ["web"]
        assert a.containers[0].last_exit is dead         # its finish time drives the back-off
    else:
        assert a.containers == []


def test_changed_spec_kills_the_container():
    p = pod()
    old = {"name": "web", "image": "busybox:old"}
    running = info("web", spec=old)
    a = actions(p, sandbox(), running)
    assert a.containers_to_kill() == {"web": "Container web definition changed, will be restarted"}
    assert a.containers[0].kill is running and not a.containers[0].start
    # no hash label (an adopted container): nothing to compare, leave it
    assert actions(p, sandbox(), info("web")).containers == []


def test_failed_liveness_probe_kills_the_container():
    p = pod()
    running = info("web", spec=p["spec"]["containers"][0])
    a = actions(p, sandbox(), running,
                probe_failed=lambda name, cid: "liveness" if cid == running.id else None)
    assert a.containers_to_kill() == {"web": "Container web failed liveness probe, will be restarted"}


def test_after_a_kill_the_exit_code_decides_the_restart():
    c = {"name": "web", "image": "busybox"}
    killed = info("web", "exited", restart=1, exit_code=137)
    assert restart_step(c, killed, None, "OnFailure").start
    assert restart_step(c, killed, None, "Never") is None
    assert restart_step(c, info("web", "exited", exit_code=0), None, "OnFailure") is None


def test_created_but_never_started_is_removed_and_started_again():
    c = {"name": "web", "image": "busybox"}
    created = info("web", "created", restart=1)
    previous = info("web", "exited", restart=0, exit_code=1)
    step = restart_step(c, created, previous, "Always")
    assert step.remove is created and step.start and step.last_exit is previous
    step = restart_step(c, created, info("web", "exited", exit_code=0), "OnFailure")
    assert step.remove is created and not step.start


def test_init_containers_run_one_at_a_time_in_order():
    p = pod(init=("first", "second"))
    a = actions(p, sandbox())
    assert a.next_init.container["name"] == "first" and not a.init_done and a.containers == []
    a = actions(p, sandbox(), info("first", "running", kind="init"))
    assert a.next_init is None and not a.init_done                 # still at work
    a = actions(p, sandbox(), info("first", "exited", exit_code=0, kind="init"))
    assert a.next_init.container["name"] == "second"
    a = actions(p, sandbox(), info("first", "exited", exit_code=0, kind="init"),
                info("second", "exited", exit_code=0, kind="init"))
    assert a.init_done and a.containers_to_start() == ["web"]


def test_init_containers_run_again_in_a_new_sandbox():
    p = pod(init=("first",))
    done_in_old = info("first", "exited", exit_code=0, kind="init", created=-5)
    a = actions(p, sandbox(restart=1), done_in_old)
    assert a.next_init.container["name"] == "first" and a.next_init.last_exit is None


def test_failed_init_container_is_retried_unless_never():
    failed = info("first", "exited", exit_code=1, kind="init")
    a = actions(pod(init=("first",), policy="OnFailure"), sandbox(), failed)
    assert a.next_init.container["name"] == "first" and a.next_init.last_exit is failed
    a = actions(pod(init=("first",), policy="Never"), sandbox(), failed)
    assert a.init_failed and a.next_init is None and not a.init_done and a.containers == []


def test_deleted_or_finished_pod_starts_nothing():
    a = actions(pod(deletionTimestamp="2026-01-02T03:04:05Z"), sandbox())
    assert a.kill_pod and a.pod_over and not a.create_sandbox and a.containers == []
    done = pod()
    done["status"]["phase"] = "Succeeded"
    a = actions(done)
    assert a.kill_pod and a.pod_over and not a.create_sandbox
