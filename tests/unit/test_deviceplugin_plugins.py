"""The simulated and nvidia plugins' own logic, without sockets.

NVML is replaced by a small fake module only to test ``list_gpus`` and the
plugin's health check; the real thing needs an NVIDIA driver.
"""
import json
import os
import subprocess
import sys
import types

import pytest

from minikube_py.deviceplugin import nvidia, simulated
from minikube_py.deviceplugin.simulated import SimulatedGPUPlugin, gpu_uuid, read_health_file


def test_gpu_uuid_is_stable_and_per_node():
    u = gpu_uuid("node-a", 0)
    assert u == gpu_uuid("node-a", 0)
    assert u.startswith("GPU-") and len(u) == 40          # GPU- + 36-char UUID, like NVIDIA's
    assert u != gpu_uuid("node-a", 1) and u != gpu_uuid("node-b", 0)


def test_simulated_gpus_describe_ids_and_bus():
    gpus = simulated.simulated_gpus(3, "n", name="NVIDIA A100", memory_mib=40960)
    assert [g["id"] for g in gpus] == ["GPU-0", "GPU-1", "GPU-2"]
    assert gpus[2]["bus_id"] == "00000000:1A:00.0" and gpus[0]["memory_mib"] == 40960


def test_read_health_file(tmp_path):
    path = tmp_path / "h.json"
    assert read_health_file(str(path)) is None
    path.write_text('{"unhealthy": ["GPU-1"]}')
    assert read_health_file(str(path)) == {"GPU-1"}
    path.write_text("{}")
    assert read_health_file(str(path)) == set()
    for bad in ("not json", '["GPU-1"]', '{"unhealthy": "GPU-1"}'):
        path.write_text(bad)
        with pytest.raises(ValueError):
            read_health_file(str(path))


def test_simulated_health_flips_with_the_file(tmp_path):
    p = SimulatedGPUPlugin(str(tmp_path), 3, node_name="n", unhealthy=["GPU-2"])
    health = lambda: {d.ID: d.health for d in p.list_devices()}  # noqa: E731
    assert health() == {"GPU-0": "Healthy", "GPU-1": "Healthy", "GPU-2": "Unhealthy"}
    assert p.refresh() is False                                  # nothing changed
    (tmp_path / "simulated-health.json").write_text('{"unhealthy": ["GPU-0", "GPU-9"]}')
    assert p.refresh() is True
    assert health()["GPU-0"] == "Unhealthy" and health()["GPU-2"] == "Healthy"
    (tmp_path / "simulated-health.json").write_text("garbage")  # ignored: last good state stays
    assert p.refresh() is False and health()["GPU-0"] == "Unhealthy"
    os.unlink(tmp_path / "simulated-health.json")                # back to --unhealthy
    assert p.refresh() is True and health()["GPU-2"] == "Unhealthy"


def test_simulated_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="GPU-5"):
        SimulatedGPUPlugin(str(tmp_path), 2, unhealthy=["GPU-5"])
    with pytest.raises(ValueError):
        SimulatedGPUPlugin(str(tmp_path), -1)


def test_simulated_preferred_allocation(tmp_path):
    p = SimulatedGPUPlugin(str(tmp_path), 12, node_name="n")
    assert p.options().get_preferred_allocation_available
    assert p.preferred_allocation(["GPU-10", "GPU-3", "GPU-2"], [], 2) == ["GPU-2", "GPU-3"]
    assert p.preferred_allocation(["GPU-10", "GPU-3", "GPU-2"], ["GPU-10"], 2) == ["GPU-10", "GPU-2"]


def test_simulated_allocate_env(tmp_path):
    p = SimulatedGPUPlugin(str(tmp_path), 2, node_name="n")
    resp = p.allocate_container(["GPU-1"], context=None)
    assert resp.envs["NVIDIA_VISIBLE_DEVICES"] == "GPU-1"
    described = json.loads(resp.envs["MINIKUBE_PY_SIMULATED_GPUS"])
    assert described == [{"id": "GPU-1", "uuid": gpu_uuid("n", 1), "name": "NVIDIA H200",
                          "memory_mib": 143771, "bus_id": "00000000:19:00.0"}]


# ---------------------------------------------------------------- nvidia (fake NVML)
class FakeNVMLError(Exception):
    pass


def fake_nvml(broken=()):
    gpus = [("NVIDIA H200", "GPU-aaaa", 150_754_820_096, "00000000:18:00.0"),
            (b"NVIDIA H200", b"GPU-bbbb", 150_754_820_096, b"00000000:2A:00.0")]

    def handle(i):
        return i

    def by_uuid(u):
        if u in broken:
            raise FakeNVMLError("GPU is lost")
        return [g[1] if isinstance(g[1], str) else g[1].decode() for g in gpus].index(u)

    return types.SimpleNamespace(
        NVMLError=FakeNVMLError,
        nvmlDeviceGetCount=lambda: len(gpus),
        nvmlDeviceGetHandleByIndex=handle,
        nvmlDeviceGetHandleByUUID=by_uuid,
        nvmlDeviceGetName=lambda h: gpus[h][0],
        nvmlDeviceGetUUID=lambda h: gpus[h][1],
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(total=gpus[h][2]),
        nvmlDeviceGetPciInfo=lambda h: types.SimpleNamespace(busId=gpus[h][3]),
        nvmlShutdown=lambda: None)


def test_nvidia_list_gpus_and_format():
    gpus = nvidia.list_gpus(fake_nvml())
    assert gpus[1] == {"index": 1, "name": "NVIDIA H200", "uuid": "GPU-bbbb",
                       "memory_mib": 143771, "bus_id": "00000000:2A:00.0"}
    text = nvidia.format_gpu_list(gpus)
    assert text.splitlines()[0].startswith("GPU 0: NVIDIA H200 (UUID: GPU-aaaa) 143771 MiB")
    assert nvidia.format_gpu_list([]) == "No devices were found"


def test_nvidia_plugin_devices_health_and_allocate(tmp_path):
    nvml = fake_nvml()
    p = nvidia.NvidiaPlugin(str(tmp_path), nvml=nvml, health_interval=0)
    assert [(d.ID, d.health) for d in p.list_devices()] == [("GPU-aaaa", "Healthy"),
                                                            ("GPU-bbbb", "Healthy")]
    assert p.allocate_container(["GPU-bbbb"], None).envs["NVIDIA_VISIBLE_DEVICES"] == "GPU-bbbb"
    p.nvml = fake_nvml(broken={"GPU-aaaa"})
    assert p.refresh() is True
    assert dict((d.ID, d.health) for d in p.list_devices())["GPU-aaaa"] == "Unhealthy"


def test_load_nvml_without_bindings_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)      # makes `import pynvml` fail
    with pytest.raises(nvidia.NVMLUnavailable, match="pip install nvidia-ml-py"):
        nvidia.load_nvml()


def test_nvidia_list_command_explains_a_missing_driver():
    proc = subprocess.run([sys.executable, "-m", "minikube_py.deviceplugin.command", "nvidia",
                           "--list"], capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        pytest.skip(f"NVML works on this host: {proc.stdout.strip()}")
    assert proc.returncode == 1
    assert "nvidia-ml-py" in proc.stderr or "NVIDIA driver" in proc.stderr
    assert "Traceback" not in proc.stderr
