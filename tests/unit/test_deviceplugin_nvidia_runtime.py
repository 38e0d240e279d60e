"""The lab's simulated nvidia OCI runtime: argument parsing and the config.json rewrite.

The script (lab/nvidia-runtime/nvidia-container-runtime) is loaded as a module;
tests/e2e/test_nvidia_runtime.py runs it for real under dockerd.
"""
import importlib.machinery
import importlib.util
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "lab", "nvidia-runtime", "nvidia-container-runtime")
SMI = os.path.join(ROOT, "lab", "nvidia-runtime", "nvidia-smi")


def _load():
    loader = importlib.machinery.SourceFileLoader("nvidia_container_runtime", SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


rt = _load()
GPUS = json.dumps([{"id": "GPU-0", "index": 0, "uuid": "GPU-aaaa", "name": "NVIDIA H200",
                    "memory_mib": 143771, "bus_id": "00000000:18:00.0"},
                   {"id": "GPU-1", "index": 1, "uuid": "GPU-bbbb", "name": "NVIDIA H200",
                    "memory_mib": 143771, "bus_id": "00000000:19:00.0"}])


def test_split_command_as_containerd_shim_calls_it():
    args = ["--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json",
            "--log-format", "json", "--systemd-cgroup", "create", "--bundle", "/b",
            "--pid-file", "/b/init.pid", "abc123"]
    flags, command, rest = rt.split_command(args)
    assert command == "create" and rest == ["--bundle", "/b", "--pid-file", "/b/init.pid", "abc123"]
    assert rt.global_flag(flags, "--log") == "/run/x/log.json"
    assert rt.find_bundle(rest) == "/b"
    assert rt.split_command(["--log=/l", "--debug", "delete", "x"])[1] == "delete"
    assert rt.find_bundle(["-b=/c", "id"]) == "/c"
    assert rt.split_command(["--version"])[1] is None


def test_select_gpus_by_id_uuid_index_and_all():
    assert [g["uuid"] for g in rt.select_gpus("GPU-1", GPUS)] == ["GPU-bbbb"]
    assert [g["uuid"] for g in rt.select_gpus("GPU-bbbb,0", GPUS)] == ["GPU-bbbb", "GPU-aaaa"]
    assert len(rt.select_gpus("all", GPUS)) == 2
    made_up = rt.select_gpus("GPU-3", None)                    # no description: generic GPUs
    assert made_up[0]["id"] == "GPU-3" and made_up[0]["uuid"].startswith("GPU-")
    assert rt.select_gpus("all", None) == []


@pytest.mark.parametrize("visible,described,error", [
    ("GPU-7", GPUS, "unknown device id: GPU-7"),
    ("GPU-0", "{not json", "not valid JSON"),
    ("GPU-0", '{"id": "GPU-0"}', "JSON list"),
])
def test_select_gpus_refuses_bad_input(visible, described, error):
    with pytest.raises(rt.RefuseCreate, match=error):
        rt.select_gpus(visible, described)


def config_with_env(*env):
    return {"process": {"env": ["PATH=/bin", *env]},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}


def test_add_gpus_mounts_smi_and_data(tmp_path):
    config = config_with_env("NVIDIA_VISIBLE_DEVICES=GPU-1", f"MINIKUBE_PY_SIMULATED_GPUS={GPUS}")
    assert rt.add_gpus(config, str(tmp_path)) is True
    assert rt.add_gpus(config, str(tmp_path)) is True         # twice: no duplicate mounts
    dests = [m["destination"] for m in config["mounts"]]
    assert dests == ["/proc", "/usr/bin/nvidia-smi", "/bin/nvidia-smi", "/run/nvidia-sim/gpus"]
    smi = config["mounts"][1]
    assert smi["type"] == "bind" and "ro" in smi["options"] and smi["source"].endswith("nvidia-smi")
    data = tmp_path / "nvidia-sim-gpus"
    assert config["mounts"][3]["source"] == str(data)
    assert data.read_text() == "0|GPU-bbbb|143771|00000000:19:00.0|NVIDIA H200\n"


@pytest.mark.parametrize("env", [[], ["NVIDIA_VISIBLE_DEVICES=void"], ["NVIDIA_VISIBLE_DEVICES=none"],
                                 ["NVIDIA_VISIBLE_DEVICES="]])
def test_add_gpus_leaves_other_containers_alone(tmp_path, env):
    config = config_with_env(*env)
    before = json.dumps(config)
    assert rt.add_gpus(config, str(tmp_path)) is False
    assert json.dumps(config) == before and not (tmp_path / "nvidia-sim-gpus").exists()


def test_rewrite_config_file_and_error_log(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config_with_env("NVIDIA_VISIBLE_DEVICES=GPU-0")))
    assert rt.rewrite_config(str(tmp_path)) is True
    written = json.loads((tmp_path / "config.json").read_text())
    assert any(m["destination"] == "/usr/bin/nvidia-smi" for m in written["mounts"])
    log = tmp_path / "log.json"
    rt.report_error(["--log", str(log), "--log-format", "json"], "unknown device id: GPU-7")
    line = json.loads(log.read_text())
    assert line["level"] == "error" and "GPU-7" in line["msg"]


def test_simulated_nvidia_smi_script(tmp_path):
    """The script itself, under the host's sh (the e2e test runs it under busybox)."""
    data = tmp_path / "gpus"
    data.write_text("0|GPU-bbbb|143771|00000000:19:00.0|NVIDIA H200\n")
    env = dict(os.environ, NVIDIA_SIM_DATA=str(data))
    run = lambda *a: subprocess.run(["sh", SMI, *a], env=env, capture_output=True, text=True)  # noqa: E731
    assert run("-L").stdout == "GPU 0: NVIDIA H200 (UUID: GPU-bbbb)\n"
    out = run("--query-gpu=index,uuid,memory.total", "--format=csv,noheader,nounits").stdout
    assert out == "0, GPU-bbbb, 143771\n"
    table = run().stdout
    assert "NVIDIA H200" in table and "143771MiB" in table
    assert {len(line) for line in table.splitlines()[1:] if line} == {91}   # the box is straight
    assert run("--bogus").returncode == 2
    data.write_text("")
    assert run("-L").stdout.strip() == "No devices were found"
    env["NVIDIA_SIM_DATA"] = str(tmp_path / "missing")
    proc = run("-L")
    assert proc.returncode == 9 and "couldn't communicate with the NVIDIA driver" in proc.stdout
