"""The Docker runtime against the real Docker engine, with the locally built images.

Every container made here belongs to a node name unique to this test run, and
is removed at the end (even when a test fails).
"""

import os
import subprocess
import time
import uuid

import docker
import pytest

from minikube_py.kubelet.runtime.base import (
    LABEL_NODE, ContainerStartError, ExecTimeout, ImageError,
)
from minikube_py.kubelet.runtime.docker import DockerRuntime
from minikube_py.kubelet.stats import cgroups

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Docker is not available: {e}")
    subprocess.run([os.path.join(ROOT, "lab", "build-images.sh")], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    yield client
    # Belt and braces: nothing of this run may survive it.
    for c in client.containers.list(all=True, filters={"label": LABEL_NODE}):
        if c.labels.get(LABEL_NODE, "").startswith(f"e2e-{RUN}"):
            c.remove(force=True)
    client.close()


@pytest.fixture
def make_runtime(docker_client, tmp_path):
    made = []

    def make(suffix="a"):
        rt = DockerRuntime(f"e2e-{RUN}-{suffix}", client=docker_client,
                           state_dir=str(tmp_path / f"state-{suffix}"))
        made.append(rt)
        return rt

    yield make
    for rt in made:
        for info in rt.list_containers():
            rt.remove_container(info.id)


@pytest.fixture
def rt(make_runtime):
    return make_runtime("a")


def make_pod(name, containers, **spec):
    return {"metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
            "spec": {"containers": containers, **spec}}


def wait_exited(rt, cid, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = rt.inspect(cid)
        if info.state == "exited":
            return info
        time.sleep(0.1)
    raise AssertionError(f"container {cid[:12]} still {info.state}")


def logs_text(rt, cid, **kw):
    return b"".join(rt.logs(cid, **kw)).decode()


# ------------------------------------------------------------------ pods
def test_runtime_two_containers_share_localhost(rt):
    server = {"name": "web", "image": "busybox",
              "command": ["sh", "-c", "mkdir -p /www && echo hello-from-$(POD_NAME) > /www/index.html"
                                      " && exec httpd -f -p 8080 -h /www"],
              "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}
    client = {"name": "client", "image": "busybox",
              "command": ["sh", "-c", "for i in $(seq 1 50); do wget -q -O- http://localhost:8080/"
                                      " && exit 0; sleep 0.1; done; exit 1"]}
    pod = make_pod("duo", [server, client])
    t0 = time.time()
    sandbox = rt.create_sandbox(pod)
    t1 = time.time()
    srv = rt.start_container(pod, server, sandbox, 0, "app")
    t2 = time.time()
    cli = rt.start_container(pod, client, sandbox, 0, "app")
    print(f"sandbox {t1 - t0:.3f}s, first container {t2 - t1:.3f}s")
    info = wait_exited(rt, cli)
    assert (info.exit_code, info.reason) == (0, "Completed"), logs_text(rt, cli)
    assert "hello-from-duo" in logs_text(rt, cli)
    # one IP, one hostname for the whole pod
    ip = rt.sandbox_ip(sandbox)
    assert ip.count(".") == 3
    code, out = rt.exec(srv, ["hostname"])
    assert (code, out.decode().strip()) == (0, "duo")


def test_runtime_env_emptydir_and_pod_ip(rt):
    writer = {"name": "writer", "image": "busybox",
              "command": ["sh", "-c", "echo $MY_IP $NODE > /shared/note; sleep 30"],
              "env": [{"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                      {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
              "volumeMounts": [{"name": "scratch", "mountPath": "/shared"}]}
    reader = {"name": "reader", "image": "busybox", "workingDir": "/in",
              "command": ["sh", "-c", "for i in $(seq 1 50); do [ -s note ] && break; sleep 0.1; done;"
                                      " cat note; echo $GPU; touch x 2>/dev/null || echo read-only"],
              "volumeMounts": [{"name": "scratch", "mountPath": "/in", "readOnly": True}]}
    pod = make_pod("vol", [writer, reader], volumes=[{"name": "scratch", "emptyDir": {}}])
    sandbox = rt.create_sandbox(pod)
    rt.start_container(pod, writer, sandbox, 0, "app")
    r = rt.start_container(pod, reader, sandbox, 0, "app", extra_env={"GPU": "GPU-0"})
    wait_exited(rt, r)
    lines = logs_text(rt, r).split("\n")
    assert lines[0] == f"{rt.sandbox_ip(sandbox)} {rt.node_name}"
    assert lines[1:3] == ["GPU-0", "read-only"]
    uid = pod["metadata"]["uid"]
    vol_dir = os.path.join(rt.state_dir, "pods", uid)
    assert os.path.isdir(vol_dir)
    assert rt.remove_pod(uid) == 3
    assert rt.list_containers(uid) == [] and not os.path.exists(vol_dir)


def test_runtime_limits_land_in_cgroups(rt, docker_client):
    spec = {"name": "limited", "image": "busybox", "command": ["sleep", "30"],
            "resources": {"limits": {"cpu": "250m", "memory": "32Mi"},
                          "requests": {"cpu": "100m", "memory": "16Mi"}}}
    pod = make_pod("limits", [spec])
    sandbox = rt.create_sandbox(pod)
    cid = rt.start_container(pod, spec, sandbox, 0, "app")
    hc = docker_client.api.inspect_container(cid)["HostConfig"]
    assert (hc["CpuPeriod"], hc["CpuQuota"], hc["CpuShares"]) == (100000, 25000, 102)
    assert hc["Memory"] == 32 << 20
    paths = cgroups.find_cgroup(cid, rt.inspect(cid).pid)
    if paths.version == 1:
        limit = int(open(os.path.join(paths.memory, "memory.limit_in_bytes")).read())
        cpu_root = cgroups.controller_dir("cpu")
        rel = os.path.relpath(paths.cpu, cgroups.controller_dir("cpuacct"))
        assert int(open(os.path.join(cpu_root, rel, "cpu.cfs_quota_us")).read()) == 25000
        assert int(open(os.path.join(cpu_root, rel, "cpu.shares")).read()) == 102
    else:
        limit = int(open(os.path.join(paths.memory, "memory.max")).read())
        assert open(os.path.join(paths.cpu, "cpu.max")).read().split() == ["25000", "100000"]
    assert limit == 32 << 20


def test_runtime_oom_killed(rt):
    spec = {"name": "hog", "image": "busybox",
            "command": ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
            "resources": {"limits": {"memory": "16Mi"}}}
    pod = make_pod("oom", [spec])
    cid = rt.start_container(pod, spec, rt.create_sandbox(pod), 0, "app")
    info = wait_exited(rt, cid)
    assert info.oom_killed and info.reason == "OOMKilled" and info.exit_code == 137


# ------------------------------------------------------------------ isolation, adoption
def test_runtime_nodes_see_only_their_containers(make_runtime):
    a, b = make_runtime("a"), make_runtime("b")
    pa = make_pod("on-a", [])
    pb = make_pod("on-b", [])
    sa, sb = a.create_sandbox(pa), b.create_sandbox(pb)
    assert [i.id for i in a.list_containers()] == [sa]
    assert [i.id for i in b.list_containers()] == [sb]
    info = a.list_containers()[0]
    assert (info.kind, info.container_name, info.pod_name, info.state) == \
        ("sandbox", "POD", "on-a", "running")
    # b must not touch a's container
    b.stop_container(sa, 0)
    b.remove_container(sa)
    assert a.inspect(sa).state == "running"
    # a restarted kubelet (a new runtime object, same node) adopts what is there
    again = DockerRuntime(a.node_name, client=a.client, state_dir=a.state_dir)
    assert [i.id for i in again.list_containers()] == [sa]


def test_runtime_container_labels_go_on_every_container(make_runtime, docker_client):
    """--container-labels: the compose lab marks its pods as its Compose project's; the
    kubelet's own labels (which node, which pod) cannot be overridden by them."""
    rt = make_runtime("labels")
    rt.container_labels = {"com.docker.compose.project": "lab", LABEL_NODE: "not-this-node"}
    spec = {"name": "c", "image": "busybox", "command": ["sleep", "60"]}
    pod = make_pod("labelled", [spec])
    sandbox = rt.create_sandbox(pod)
    app = rt.start_container(pod, spec, sandbox, 0, "app")
    for cid in (sandbox, app):
        labels = docker_client.containers.get(cid).labels
        assert labels["com.docker.compose.project"] == "lab"
        assert labels[LABEL_NODE] == rt.node_name
    assert sorted(i.id for i in rt.list_containers()) == sorted([sandbox, app])


# ------------------------------------------------------------------ stop
def test_runtime_stop_grace_then_kill(rt):
    stubborn = {"name": "stubborn", "image": "busybox",
                "command": ["sh", "-c", "trap 'echo got TERM' TERM; while :; do sleep 0.1; done"]}
    polite = {"name": "polite", "image": "busybox",
              "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]}
    pod = make_pod("stop", [stubborn, polite])
    sandbox = rt.create_sandbox(pod)
    s = rt.start_container(pod, stubborn, sandbox, 0, "app")
    p = rt.start_container(pod, polite, sandbox, 0, "app")
    time.sleep(0.5)
    t = time.time()
    rt.stop_container(s, 2)
    took = time.time() - t
    info = rt.inspect(s)
    assert 1.8 <= took < 6, took
    assert (info.state, info.exit_code, info.reason) == ("exited", 137, "Error")
    assert "got TERM" in logs_text(rt, s)
    t = time.time()
    rt.stop_container(p, 10)
    assert time.time() - t < 3
    assert (rt.inspect(p).exit_code, rt.inspect(p).reason) == (0, "Completed")
    rt.stop_container(p, 1)            # idempotent
    t = time.time()
    rt.stop_container(sandbox, 10)     # the pause image exits promptly on SIGTERM
    assert time.time() - t < 3 and rt.inspect(sandbox).exit_code == 0


# ------------------------------------------------------------------ logs, exec
def test_runtime_logs(rt):
    spec = {"name": "talker", "image": "busybox",
            "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; sleep 0.3;"
                                    " echo oops >&2; sleep 1; echo late"]}
    pod = make_pod("logs", [spec])
    cid = rt.start_container(pod, spec, rt.create_sandbox(pod), 0, "app")
    # stdout and stderr are separate pipes, so the sleep keeps their order certain
    followed = logs_text(rt, cid, follow=True)          # ends when the container does
    assert followed == "line1\nline2\nline3\nline4\nline5\noops\nlate\n"
    assert logs_text(rt, cid, tail=2) == "oops\nlate\n"
    stamped = logs_text(rt, cid, timestamps=True, tail=1)
    assert stamped.endswith(" late\n") and stamped[:4].isdigit() and "T" in stamped[:20]
    assert logs_text(rt, cid, since=time.time() + 60) == ""


def test_runtime_exec(rt):
    spec = {"name": "box", "image": "busybox", "command": ["sleep", "60"]}
    pod = make_pod("exec", [spec])
    cid = rt.start_container(pod, spec, rt.create_sandbox(pod), 0, "app")
    code, output = rt.exec(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    # stdout and stderr are two pipes: both lines arrive, in either order
    assert code == 3 and sorted(output.splitlines()) == [b"err", b"out"]
    assert rt.exec(cid, ["true"])[0] == 0
    t = time.time()
    with pytest.raises(ExecTimeout):
        rt.exec(cid, ["sleep", "10"], timeout=1)
    assert time.time() - t < 3


# ------------------------------------------------------------------ failures
def test_runtime_missing_image_fails_fast(rt):
    t = time.time()
    with pytest.raises(ImageError) as e:
        rt.ensure_image(f"minikube-py/does-not-exist:{RUN}", "IfNotPresent")
    assert e.value.reason == "ErrImagePull"
    assert time.time() - t <= rt.pull_timeout + 1
    with pytest.raises(ImageError) as e:
        rt.ensure_image(f"minikube-py/does-not-exist:{RUN}", "Never")
    assert e.value.reason == "ErrImageNeverPull"
    # local images are used: Always falls back to the local copy (no registry here)
    rt.ensure_image("busybox", "Always")
    rt.ensure_image("busybox:1.35", "Never")
    rt.ensure_image("busybox", None)


def test_runtime_bad_command_is_a_start_error(rt):
    spec = {"name": "bad", "image": "busybox", "command": ["/no/such/binary"]}
    pod = make_pod("badcmd", [spec])
    sandbox = rt.create_sandbox(pod)
    with pytest.raises(ContainerStartError) as e:
        rt.start_container(pod, spec, sandbox, 0, "app")
    assert e.value.reason == "RunContainerError"
    assert "/no/such/binary" in e.value.message and e.value.container_id
    info = rt.inspect(e.value.container_id)
    assert (info.state, info.reason) == ("exited", "StartError") and info.exit_code != 0
    # the kubelet retries with the next restart count; the leftover does not get in the way
    with pytest.raises(ContainerStartError):
        rt.start_container(pod, spec, sandbox, 0, "app")   # same name: old one replaced
    assert len([i for i in rt.list_containers() if i.container_name == "bad"]) == 1


# ------------------------------------------------------------------ stats
def test_runtime_stats_of_busy_container(rt):
    spec = {"name": "busy", "image": "busybox", "command": ["sh", "-c", "while :; do :; done"],
            "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}
    pod = make_pod("busy", [spec])
    cid = rt.start_container(pod, spec, rt.create_sandbox(pod), 0, "app")
    first = rt.stats(cid)
    time.sleep(1)
    second = rt.stats(cid)
    assert second["cpu_usage_ns"] > first["cpu_usage_ns"] > 0
    assert second["memory_working_set_bytes"] > 0
    nanocores = cgroups.cpu_nanocores(first, second)
    assert 0.2e9 < nanocores < 0.7e9, nanocores      # limited to half a CPU
    print("stats source", second["source"], "nanocores", nanocores)
