"""The lab's simulated nvidia runtime under the real dockerd, and the whole GPU path.

The session fixture installs the runtime itself (lab/nvidia-runtime/install.sh is
idempotent): CI runs on a fresh machine. Installing sends dockerd SIGHUP (it
re-reads its runtimes); running containers are not disturbed, which one test
checks. Every container made here is removed, even when a test fails.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import docker
import pytest
import yaml

from minikube_py.deviceplugin.simulated import SimulatedGPUPlugin, gpu_uuid
from minikube_py.kubelet.devices import DeviceManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL = os.path.join(ROOT, "lab", "nvidia-runtime", "install.sh")
RUN = uuid.uuid4().hex[:8]
LABEL = "io.minikube-py.test-nvidia-runtime"
GPUS = [{"id": f"GPU-{i}", "uuid": gpu_uuid(f"e2e-{RUN}", i), "name": "NVIDIA H200",
         "memory_mib": 143771, "bus_id": f"00000000:{0x18 + i:02X}:00.0"} for i in range(2)]


def install(**env):
    return subprocess.run(["bash", INSTALL], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **env))


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Docker is not available: {e}")
    if os.geteuid() != 0:
        pytest.skip("installing the nvidia runtime into dockerd needs root")
    subprocess.run([os.path.join(ROOT, "lab", "build-images.sh")], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    proc = install()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield client
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}={RUN}"}):
        c.remove(force=True)
    client.close()


def docker_run(*args, env=None):
    """`docker run --rm --runtime nvidia [-e K=V ...] busybox ARGS` -> CompletedProcess."""
    cmd = ["docker", "run", "--rm", "--label", f"{LABEL}={RUN}", "--runtime", "nvidia"]
    for k, v in (env or {}).items():
        cmd += ["-e", f"{k}={v}"]
    return subprocess.run(cmd + ["busybox", *args], capture_output=True, text=True, timeout=120)


def gpu_env(visible):
    return {"NVIDIA_VISIBLE_DEVICES": visible, "MINIKUBE_PY_SIMULATED_GPUS": json.dumps(GPUS)}


def test_runtime_is_registered_and_install_is_idempotent(docker_client):
    assert "nvidia" in docker_client.info()["Runtimes"]
    with open("/etc/docker/daemon.json") as f:
        before = f.read()
    proc = install()
    assert proc.returncode == 0, proc.stderr
    assert "registered runtime" not in proc.stdout and "SIGHUP" not in proc.stdout
    with open("/etc/docker/daemon.json") as f:
        assert f.read() == before


def test_nvidia_smi_lists_exactly_the_visible_gpu(docker_client):
    proc = docker_run("nvidia-smi", "-L", env=gpu_env("GPU-1"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"GPU 0: NVIDIA H200 (UUID: {GPUS[1]['uuid']})\n"
    both = docker_run("nvidia-smi", "-L", env=gpu_env("GPU-0,GPU-1")).stdout.splitlines()
    assert both == [f"GPU {i}: NVIDIA H200 (UUID: {g['uuid']})" for i, g in enumerate(GPUS)]


def test_nvidia_smi_table_and_query_under_busybox(docker_client):
    table = docker_run("nvidia-smi", env=gpu_env("GPU-0"))
    assert table.returncode == 0, table.stderr
    assert "NVIDIA H200" in table.stdout and "0MiB / 143771MiB" in table.stdout
    query = docker_run("nvidia-smi", "--query-gpu=uuid,memory.total", "--format=csv,noheader",
                       env=gpu_env("GPU-1"))
    assert query.stdout == f"{GPUS[1]['uuid']}, 143771 MiB\n"


@pytest.mark.parametrize("env", [None, {"NVIDIA_VISIBLE_DEVICES": "void"},
                                 {"NVIDIA_VISIBLE_DEVICES": "none"}])
def test_no_gpus_means_no_nvidia_smi(docker_client, env):
    proc = docker_run("sh", "-c", "ls /usr/bin/nvidia-smi /bin/nvidia-smi 2>/dev/null; nvidia-smi",
                      env=env)
    assert proc.returncode == 127 and proc.stdout == ""


def test_unknown_gpu_fails_the_create(docker_client):
    proc = docker_run("true", env=gpu_env("GPU-7"))
    assert proc.returncode != 0
    assert "unknown device id: GPU-7" in proc.stderr


def test_install_merges_daemon_json_and_refuses_a_foreign_runtime(docker_client, tmp_path):
    # Our own copy of daemon.json: the real one is left alone (dockerd may get a harmless HUP).
    keep = docker_client.containers.run("busybox", ["sleep", "60"], detach=True,
                                        labels={LABEL: RUN})
    try:
        cfg = tmp_path / "daemon.json"
        cfg.write_text(json.dumps({"log-level": "info", "runtimes": {"other": {"path": "/x"}}}))
        proc = install(DAEMON_JSON=str(cfg))
        assert proc.returncode == 0, proc.stderr
        merged = json.loads(cfg.read_text())
        assert merged["log-level"] == "info" and merged["runtimes"]["other"] == {"path": "/x"}
        assert merged["runtimes"]["nvidia"]["path"].endswith("nvidia-runtime/nvidia-container-runtime")
        keep.reload()
        assert keep.status == "running"                  # SIGHUP left running containers alone

        foreign = json.dumps({"runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime"}}})
        cfg.write_text(foreign)
        proc = install(DAEMON_JSON=str(cfg))
        assert proc.returncode != 0 and "not ours" in proc.stderr
        assert cfg.read_text() == foreign
    finally:
        keep.remove(force=True)
    assert "nvidia" in docker_client.info()["Runtimes"]


def test_device_plugin_to_kubelet_runtime_to_container(docker_client):
    """examples/gpu-pods.yaml through the whole path: simulated plugin -> DeviceManager.allocate
    -> DockerRuntime (runtime nvidia, the allocation's env) -> nvidia-smi in the container."""
    from minikube_py.kubelet.runtime.docker import DockerRuntime

    with open(os.path.join(ROOT, "examples", "gpu-pods.yaml")) as f:
        pods = [p for p in yaml.safe_load_all(f) if p][:2]
    plugin_dir = tempfile.mkdtemp(prefix="dp-", dir="/tmp")
    node = f"e2e-{RUN}-gpu"
    mgr = DeviceManager(plugin_dir, os.path.join(plugin_dir, "ckpt.json"), timeout=2)
    mgr.start()
    plugin = SimulatedGPUPlugin(plugin_dir, 2, node_name=node, poll_interval=0.05)
    plugin.start()
    rt = DockerRuntime(node, client=docker_client, state_dir=os.path.join(plugin_dir, "state"))
    try:
        deadline = time.monotonic() + 15
        while mgr.allocatable().get("nvidia.com/gpu") != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        started = []
        for pod in pods:
            pod["metadata"].update(namespace="default", uid=str(uuid.uuid4()))
            spec = pod["spec"]["containers"][0]
            alloc = mgr.allocate(pod)[spec["name"]]
            sandbox = rt.create_sandbox(pod)
            cid = rt.start_container(pod, spec, sandbox, extra_env=alloc["env"], runtime="nvidia")
            started.append((cid, alloc["device_ids"]))
        assert sorted(ids[0] for _, ids in started) == ["GPU-0", "GPU-1"]
        for cid, ids in started:
            want = f"GPU 0: NVIDIA H200 (UUID: {gpu_uuid(node, int(ids[0][-1]))})\n"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                out = b"".join(rt.logs(cid)).decode()
                if out:
                    break
                time.sleep(0.1)
            assert out == want
    finally:
        for pod in pods:
            if pod["metadata"].get("uid"):
                rt.remove_pod(pod["metadata"]["uid"])
        plugin.stop()
        mgr.stop()
        shutil.rmtree(plugin_dir, ignore_errors=True)
