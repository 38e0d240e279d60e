"""Pure parts of the kubelet: pod phase and status, back-off, node status, log rules."""
import datetime as dt

import pytest

from minikube_py.kubelet import nodestatus
from minikube_py.kubelet.backoff import Backoff, format_duration
from minikube_py.kubelet.logs import LogError, parse_options, pick_container
from minikube_py.kubelet.podstatus import (
    generate_pod_status, merge_conditions, pod_phase,
)
from minikube_py.kubelet.podactions import should_restart
from minikube_py.kubelet.podsync import grace_period
from minikube_py.kubelet.podview import PodView
from minikube_py.kubelet.prober import resolve_port
from minikube_py.kubelet.runtime.base import ContainerInfo

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def info(name, state="running", restart=0, exit_code=None, kind="app", created=0, cid=None):
    t = T0 + dt.timedelta(seconds=created)
    return ContainerInfo(
        id=cid or f"{name}-{restart}-{state}", name=f"k8s_{name}", pod_uid="uid-1", pod_name="p",
        namespace="default", container_name="POD" if kind == "sandbox" else name, kind=kind,
        restart_count=restart, state=state, exit_code=exit_code, started_at=t, created_at=t,
        finished_at=t + dt.timedelta(seconds=1) if state == "exited" else None,
        image="busybox", image_id="sha256:abc",
        reason=None if state != "exited" else ("Completed" if exit_code == 0 else "Error"))


def pod(containers=("web",), init=(), policy="Always"):
    return {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
            "spec": {"restartPolicy": policy,
                     "containers": [{"name": c, "image": "busybox"} for c in containers],
                     "initContainers": [{"name": c, "image": "busybox"} for c in init]},
            "status": {"phase": "Pending"}}


# ---------------------------------------------------------------------- phase
def test_phase_follows_container_states():
    running = {"state": {"running": {}}}
    ok = {"state": {"terminated": {"exitCode": 0}}}
    bad = {"state": {"terminated": {"exitCode": 1}}}
    waiting = {"state": {"waiting": {"reason": "ContainerCreating"}}}
    crashloop = {"state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1}}}
    assert pod_phase("Always", [], [running]) == "Running"
    assert pod_phase("Always", [], [waiting, running]) == "Pending"
    assert pod_phase("Always", [], [crashloop]) == "Running"      # as Kubernetes shows it
    assert pod_phase("Always", [], [ok]) == "Running"             # will be restarted
    assert pod_phase("OnFailure", [], [ok, ok]) == "Succeeded"
    assert pod_phase("OnFailure", [], [ok, bad]) == "Running"     # the failed one restarts
    assert pod_phase("Never", [], [ok, bad]) == "Failed"
    assert pod_phase("Never", [], [ok]) == "Succeeded"
    # init containers: pending blocks, a failure with Never fails the pod
    assert pod_phase("Always", [running], [waiting]) == "Pending"
    assert pod_phase("Never", [bad], [waiting]) == "Failed"
    assert pod_phase("OnFailure", [bad], [waiting]) == "Pending"
    # deleted: what ran decides
    assert pod_phase("Always", [], [ok], terminal=True) == "Succeeded"
    assert pod_phase("Always", [], [bad], terminal=True) == "Failed"
    assert pod_phase("Always", [], [waiting], terminal=True) == "Failed"


def test_restart_policy_and_grace():
    assert should_restart("Always", info("c", "exited", exit_code=0))
    assert not should_restart("OnFailure", info("c", "exited", exit_code=0))
    assert should_restart("OnFailure", info("c", "exited", exit_code=2))
    assert not should_restart("Never", info("c", "exited", exit_code=2))
    p = pod()
    p["spec"]["terminationGracePeriodSeconds"] = 30
    assert grace_period(p) == 30
    p["metadata"]["deletionGracePeriodSeconds"] = 7
    assert grace_period(p) == 7
    p["metadata"]["deletionGracePeriodSeconds"] = 0      # force delete: still a moment
    assert grace_period(p) == 2


# ---------------------------------------------------------------------- status
def test_status_of_running_pod_with_previous_instance():
    view = PodView([info("POD", kind="sandbox"),
                    info("web", "exited", restart=0, exit_code=1, created=1),
                    info("web", "running", restart=1, created=5)])
    st = generate_pod_status(pod(), view, pod_ip="172.17.0.9", host_ip="10.0.0.1",
                             now="2026-01-02T03:05:00Z")
    assert st["phase"] == "Running"
    assert st["podIP"] == "172.17.0.9" and st["podIPs"] == [{"ip": "172.17.0.9"}]
    assert st["hostIP"] == "10.0.0.1"
    cs = st["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["ready"] and cs["started"]
    assert cs["containerID"] == "docker://web-1-running"
    assert cs["state"]["running"]["startedAt"] == "2026-01-02T03:04:10Z"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    types = [c["type"] for c in st["conditions"]]
    assert types == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                     "PodScheduled"]
    assert all(c["status"] == "True" for c in st["conditions"])
    assert st["qosClass"] == "BestEffort"


def test_status_waiting_reasons_and_readiness():
    view = PodView([info("POD", kind="sandbox"), info("web", "exited", exit_code=3, created=1),
                    info("side", created=2)])
    st = generate_pod_status(pod(("web", "side", "new")), view,
                             waiting={"web": ("CrashLoopBackOff", "back-off 10s ...")},
                             ready=lambda name, cid: name != "side")
    web, side, new = st["containerStatuses"]
    assert web["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s ..."}}
    assert web["lastState"]["terminated"]["exitCode"] == 3
    assert side["state"]["running"] and not side["ready"]
    assert new["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert st["phase"] == "Pending"
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [web side new]"


def test_status_init_containers():
    view = PodView([info("POD", kind="sandbox"),
                    info("init1", "exited", exit_code=0, kind="init", created=1),
                    info("init2", "running", kind="init", created=2)])
    st = generate_pod_status(pod(("web",), init=("init1", "init2")), view)
    i1, i2 = st["initContainerStatuses"]
    assert i1["ready"] and i1["state"]["terminated"]["reason"] == "Completed"
    assert not i2["ready"] and i2["state"]["running"]
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert st["phase"] == "Pending"
    init = next(c for c in st["conditions"] if c["type"] == "Initialized")
    assert init["status"] == "False" and "init2" in init["message"]


def test_conditions_keep_transition_time():
    old = [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
           {"type": "DisruptionTarget", "status": "True", "lastTransitionTime": "x"}]
    new = merge_conditions([{"type": "Ready", "status": "True"},
                            {"type": "Initialized", "status": "True"}], old, now="NOW")
    by = {c["type"]: c for c in new}
    assert by["Ready"]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert by["Initialized"]["lastTransitionTime"] == "NOW"
    assert "DisruptionTarget" in by                      # not ours: kept
    flipped = merge_conditions([{"type": "Ready", "status": "False"}], old, now="NOW")
    assert flipped[0]["lastTransitionTime"] == "NOW"


# ---------------------------------------------------------------------- back-off
def test_backoff_doubles_to_max_and_resets():
    now = [1000.0]
    b = Backoff(10, 40, clock=lambda: now[0])
    key = ("uid", "c")
    assert not b.in_backoff_since(key, now[0])           # first crash: restart at once
    assert b.next(key, now[0]) == 10
    now[0] += 2
    assert b.in_backoff_since(key, now[0] - 1)           # crashed again 1 s ago: wait
    assert 8.5 < b.remaining(key, now[0] - 1) <= 9
    now[0] += 20
    assert not b.in_backoff_since(key, now[0] - 11)
    assert b.next(key, now[0]) == 20
    assert b.next(key, now[0]) == 40
    assert b.next(key, now[0]) == 40                     # capped
    now[0] += 100                                        # quiet for > 2 x max: forgotten
    assert b.next(key, now[0]) == 10
    assert format_duration(10) == "10s" and format_duration(80) == "1m20s"
    assert format_duration(300) == "5m0s"


# ---------------------------------------------------------------------- node
def test_node_flags_parse_and_reject_bad_input():
    assert nodestatus.parse_labels("a=b, gpu=true,") == {"a": "b", "gpu": "true"}
    assert nodestatus.parse_taints("gpu=yes:NoSchedule,dedicated:NoExecute") == [
        {"key": "gpu", "value": "yes", "effect": "NoSchedule"},
        {"key": "dedicated", "effect": "NoExecute"}]
    for bad in ("novalue", ):
        with pytest.raises(ValueError):
            nodestatus.parse_labels(bad)
    for bad in ("k=v", "k=v:Sometimes", "=v:NoSchedule"):
        with pytest.raises(ValueError):
            nodestatus.parse_taints(bad)
    with pytest.raises(ValueError):
        nodestatus.validate_quantity("memory", "lots")
    assert nodestatus.validate_quantity("memory", "4Gi") == "4Gi"


def test_node_status_conditions_and_capacity():
    cap = nodestatus.capacity("2", "4Gi", None, "/tmp")
    assert (cap["cpu"], cap["memory"], cap["pods"]) == ("2", "4Gi", "110")
    host_cap = nodestatus.capacity(None, None, "20", "/tmp")
    assert int(host_cap["cpu"]) >= 1 and host_cap["memory"].endswith("Ki")
    st = nodestatus.node_status(capacity_=cap, allocatable_=cap, address="10.1.2.3",
                                node_name="n1", port=12345, runtime_version="docker://x",
                                runtime_ok=True, runtime_message="", heartbeat="T1")
    ready = st["conditions"][-1]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "KubeletReady")
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 12345}}
    assert {"type": "InternalIP", "address": "10.1.2.3"} in st["addresses"]
    assert st["nodeInfo"]["kubeletVersion"].startswith("v1.")
    down = nodestatus.node_status(capacity_=cap, allocatable_=cap, address="10.1.2.3",
                                  node_name="n1", port=1, runtime_version="docker://x",
                                  runtime_ok=False, runtime_message="container runtime is down: x",
                                  old_conditions=st["conditions"], heartbeat="T2")
    ready = down["conditions"][-1]
    assert (ready["status"], ready["reason"]) == ("False", "KubeletNotReady")
    assert ready["message"] == "container runtime is down: x"
    assert ready["lastTransitionTime"] == "T2"
    assert down["conditions"][0]["lastTransitionTime"] == "T1"      # unchanged condition


# ---------------------------------------------------------------------- logs, probes
def test_log_container_choice():
    p = pod(("web",))
    with pytest.raises(LogError) as e:
        pick_container(p, "web", False)
    assert "is waiting to start: ContainerCreating" in e.value.message
    p["status"]["containerStatuses"] = [{
        "name": "web", "containerID": "docker://new",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "containerID": "docker://old"}}}]
    assert pick_container(p, "web", False) == "old"      # the last run's log
    assert pick_container(p, "web", True) == "old"
    p["status"]["containerStatuses"][0]["state"] = {"running": {}}
    assert pick_container(p, "web", False) == "new"
    p["status"]["containerStatuses"][0]["lastState"] = {}
    with pytest.raises(LogError) as e:
        pick_container(p, "web", True)
    assert e.value.message == 'previous terminated container "web" in pod "p" not found'
    with pytest.raises(LogError) as e:
        pick_container(p, "nope", False)
    assert e.value.code == 400 and e.value.message == "container nope is not valid for pod p"


def test_log_options():
    o = parse_options({"follow": "true", "tailLines": "5", "timestamps": "1"})
    assert (o["follow"], o["tail"], o["timestamps"], o["previous"]) == (True, 5, True, False)
    assert o["since"] is None and o["limit_bytes"] is None
    for bad in ({"tailLines": "x"}, {"limitBytes": "-1"}, {"sinceTime": "yesterday"}):
        with pytest.raises(LogError):
            parse_options(bad)


def test_probe_port_resolution():
    c = {"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port(80, c) == 80
    assert resolve_port("81", c) == 81
    assert resolve_port("http", c) == 8080
    with pytest.raises(ValueError):
        resolve_port("grpc", c)
