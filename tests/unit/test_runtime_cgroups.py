"""Reading container stats from cgroup files, on fake cgroup trees (v1, v2, both drivers)."""

import os

import pytest

from minikube_py.kubelet.stats import cgroups

CID = "abc123" + "0" * 58


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def v1_tree(root, rel, cpu_dir="cpu,cpuacct", usage=5_000_000_000, mem=10 << 20,
            inactive=2 << 20, limit=64 << 20):
    write(f"{root}/{cpu_dir}/{rel}/cpuacct.usage", f"{usage}\n")
    write(f"{root}/memory/{rel}/memory.usage_in_bytes", f"{mem}\n")
    write(f"{root}/memory/{rel}/memory.limit_in_bytes", f"{limit}\n")
    write(f"{root}/memory/{rel}/memory.stat",
          f"cache 100\nrss 200\ninactive_file 7\ntotal_inactive_file {inactive}\n")


def v2_tree(root, rel, usage_usec=1_500_000, mem=8 << 20, inactive=1 << 20, limit="max"):
    write(f"{root}/cgroup.controllers", "cpu memory io\n")
    write(f"{root}/{rel}/cpu.stat", f"usage_usec {usage_usec}\nuser_usec 1\nsystem_usec 2\n")
    write(f"{root}/{rel}/memory.current", f"{mem}\n")
    write(f"{root}/{rel}/memory.max", f"{limit}\n")
    write(f"{root}/{rel}/memory.stat", f"anon 5\nfile 9\ninactive_file {inactive}\n")


def test_runtime_cgroup_v1_cgroupfs(tmp_path):
    v1_tree(tmp_path, f"docker/{CID}")
    s = cgroups.container_stats(CID, root=str(tmp_path))
    assert s["cgroup_version"] == 1 and s["source"] == "cgroup"
    assert s["cpu_usage_ns"] == 5_000_000_000
    assert s["memory_working_set_bytes"] == (10 << 20) - (2 << 20)
    assert s["memory_usage_bytes"] == 10 << 20
    assert s["memory_limit_bytes"] == 64 << 20
    assert s["timestamp"] > 0


def test_runtime_cgroup_v1_separate_cpuacct_mount(tmp_path):
    v1_tree(tmp_path, f"docker/{CID}", cpu_dir="cpuacct")     # like this lab's VM
    os.makedirs(tmp_path / "cpu")
    assert cgroups.container_stats(CID, root=str(tmp_path))["cpu_usage_ns"] == 5_000_000_000


def test_runtime_cgroup_v1_systemd_and_unlimited(tmp_path):
    v1_tree(tmp_path, f"system.slice/docker-{CID}.scope", limit=9223372036854771712)
    s = cgroups.container_stats(CID, root=str(tmp_path))
    assert s["memory_limit_bytes"] is None


def test_runtime_cgroup_v1_working_set_never_negative(tmp_path):
    v1_tree(tmp_path, f"docker/{CID}", mem=100, inactive=500)
    assert cgroups.container_stats(CID, root=str(tmp_path))["memory_working_set_bytes"] == 0


def test_runtime_cgroup_v2(tmp_path):
    v2_tree(tmp_path, f"system.slice/docker-{CID}.scope", limit=str(32 << 20))
    s = cgroups.container_stats(CID, root=str(tmp_path))
    assert s["cgroup_version"] == 2
    assert s["cpu_usage_ns"] == 1_500_000_000
    assert s["memory_working_set_bytes"] == (8 << 20) - (1 << 20)
    assert s["memory_limit_bytes"] == 32 << 20


def test_runtime_cgroup_v2_via_proc_pid(tmp_path):
    """An unusual layout is found through /proc/<pid>/cgroup (here: our own process)."""
    with open("/proc/self/cgroup") as f:
        own = [line.strip().split(":", 2)[2] for line in f if line.startswith("0::")]
    if not own:
        pytest.skip("no cgroup v2 line in /proc/self/cgroup")
    v2_tree(tmp_path, own[0].lstrip("/") or ".")
    s = cgroups.container_stats("not-a-docker-layout", pid=os.getpid(), root=str(tmp_path))
    assert s["cpu_usage_ns"] == 1_500_000_000


def test_runtime_cgroup_missing(tmp_path):
    v1_tree(tmp_path, "docker/other")
    with pytest.raises(cgroups.StatsUnavailable):
        cgroups.container_stats(CID, root=str(tmp_path))


def test_runtime_cgroup_falls_back_to_docker_api(tmp_path):
    class Api:
        def stats(self, cid, stream, one_shot):
            assert cid == CID and stream is False
            return {"cpu_stats": {"cpu_usage": {"total_usage": 42}},
                    "memory_stats": {"usage": 1000, "limit": 4096,
                                     "stats": {"total_inactive_file": 300}}}

    class Client:
        api = Api()

    s = cgroups.container_stats(CID, root=str(tmp_path), docker_client=Client())
    assert s["source"] == "docker-api"
    assert s["cpu_usage_ns"] == 42 and s["memory_working_set_bytes"] == 700
    assert s["memory_limit_bytes"] == 4096


def test_runtime_cpu_nanocores():
    a = {"cpu_usage_ns": 1_000_000_000, "timestamp": 100.0}
    b = {"cpu_usage_ns": 1_500_000_000, "timestamp": 102.0}
    assert cgroups.cpu_nanocores(a, b) == 250_000_000          # a quarter of a CPU
    assert cgroups.cpu_nanocores(b, b) == 0
    assert cgroups.format_cpu(250_000_000) == "250000000n"
    assert cgroups.format_memory(10 << 20) == "10240Ki"
