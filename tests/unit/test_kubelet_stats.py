"""The kubelet's stats (kubelet/stats/) on cgroup trees captured from real containers.

tests/unit/data/cgroups/v1 was copied from a busybox container on this lab's
cgroup v1 host (cgroupfs driver, controllers mounted apart), and proc/ holds /proc
files of the same machine.  The lab has no cgroup v2 host: v2/ is written by hand
in the kernel's v2 file formats (cpu.stat, memory.current, memory.max, memory.stat,
pids.current) for a 200 MiB allocator with a 256 MiB limit under Docker's systemd
driver (system.slice/docker-<id>.scope).
"""
import datetime as _dt
import os
import shutil

import pytest

from minikube_py.kubelet.runtime.base import ContainerInfo
from minikube_py.kubelet.stats import accelerators, cgroups, machine, network, resourcemetrics
from minikube_py.kubelet.stats.collector import StatsCollector
from minikube_py.kubelet.stats.summary import summary

DATA = os.path.join(os.path.dirname(__file__), "data", "cgroups")
CID = "5951e3ea32b247d1683eae1db11c74e8582f06b9a3659924172cd4a7a475e9ca"
SANDBOX_PID = 712                      # tests/unit/data/cgroups/proc/712/net/dev


def test_cgroup_v1_captured_container():
    s = cgroups.container_stats(CID, root=os.path.join(DATA, "v1"))
    assert s["cgroup_version"] == 1
    assert s["cpu_usage_ns"] == 955458657
    assert s["memory_usage_bytes"] == 3076096
    assert s["memory_working_set_bytes"] == 3076096 - 2732032     # usage - total_inactive_file
    assert s["memory_rss_bytes"] == 61440
    assert (s["memory_page_faults"], s["memory_major_page_faults"]) == (1095, 27)
    assert s["memory_limit_bytes"] == 64 << 20
    assert s["process_count"] == 1


def test_cgroup_v2_captured_container_systemd_driver():
    s = cgroups.container_stats(CID, root=os.path.join(DATA, "v2"))
    assert s["cgroup_version"] == 2
    assert s["cpu_usage_ns"] == 2_500_000 * 1000
    assert s["memory_working_set_bytes"] == 213909504 - 3796992    # memory.current - inactive_file
    assert s["memory_rss_bytes"] == 209780736                      # anon
    assert (s["memory_page_faults"], s["memory_major_page_faults"]) == (51422, 7)
    assert s["memory_limit_bytes"] == 256 << 20
    assert s["process_count"] == 4


def test_root_cgroup_is_the_node_cpu_v1_and_v2():
    proc = os.path.join(DATA, "proc")
    v1 = machine.machine_sample(os.path.join(DATA, "v1"), proc)
    assert v1["source"] == "cgroup"
    with open(os.path.join(DATA, "v1", "cpuacct", "cpuacct.usage")) as f:
        assert v1["cpu_usage_ns"] == int(f.read())
    v2 = machine.machine_sample(os.path.join(DATA, "v2"), proc)
    assert (v2["source"], v2["cpu_usage_ns"]) == ("cgroup", 8123456789 * 1000)


def test_node_figures_from_proc_without_a_cgroup(tmp_path):
    s = machine.machine_sample(str(tmp_path), os.path.join(DATA, "proc"))
    assert s["source"] == "proc"
    # cpu  50753 0 29577 63831 1148 0 510 262: user+nice+system+irq+softirq+steal ticks
    assert s["cpu_usage_ns"] == (50753 + 29577 + 510 + 262) * 10**9 // machine.CLOCK_TICKS
    kib = 1024
    assert s["memory_usage_bytes"] == (24683772 - 18597528) * kib
    assert s["memory_working_set_bytes"] == (24683772 - 18597528 - 3095364) * kib
    assert s["memory_rss_bytes"] == 750980 * kib
    assert s["memory_available_bytes"] == 24683772 * kib - s["memory_working_set_bytes"]
    assert (s["memory_page_faults"], s["memory_major_page_faults"]) == (16929463, 13632)


def test_network_of_the_sandbox_netns_leaves_out_loopback():
    ifaces = network.read_interfaces(SANDBOX_PID, os.path.join(DATA, "proc"))
    assert ifaces == [{"name": "eth0", "rxBytes": 516, "rxErrors": 0, "txBytes": 0, "txErrors": 0}]
    assert network.read_interfaces(999999, os.path.join(DATA, "proc")) == []
    assert network.network_stats(ifaces, "T")["name"] == "eth0"


# ---------------------------------------------------------------- collector + Summary
class FakeRuntime:
    """What the collector asks of a runtime: running_containers() and inspect()."""

    def __init__(self, infos):
        self.infos = infos

    def running_containers(self):
        return list(self.infos)

    def inspect(self, cid):
        return next(i for i in self.infos if i.id == cid)

    logs: dict = {}

    def container_log_path(self, cid):
        return self.logs.get(cid)


def info(cid, name, kind="app", pid=None):
    return ContainerInfo(id=cid, name=name, pod_uid="uid-1", pod_name="web", namespace="shop",
                         container_name=name, kind=kind, restart_count=0, state="running", pid=pid,
                         created_at=_dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=_dt.timezone.utc))


@pytest.fixture
def tree(tmp_path):
    """The v1 capture with a second container (the pod's sandbox) beside the first."""
    root = tmp_path / "cg"
    shutil.copytree(os.path.join(DATA, "v1"), root)
    for c in ("cpuacct", "memory", "pids"):
        shutil.copytree(root / c / "docker" / CID, root / c / "docker" / ("0" * 64))
    return root


def set_cpu(root, cid, ns):
    (root / "cpuacct" / "docker" / cid / "cpuacct.usage").write_text(f"{ns}\n")


def test_collector_rates_pods_and_summary_shape(tree):
    rt = FakeRuntime([info(CID, "app"), info("0" * 64, "POD", kind="sandbox", pid=SANDBOX_PID)])
    (tree / "app.log").write_text("x" * 1234)
    rt.logs = {CID: str(tree / "app.log")}
    col = StatsCollector(rt, cgroup_root=str(tree), proc=os.path.join(DATA, "proc"), min_interval=0)
    first = col.snapshot()
    assert all(c["cpu_nanocores"] is None for c in first.containers)     # one pass: no rate yet
    set_cpu(tree, CID, 955458657 + 10**9)                                  # one CPU-second more
    second = col.snapshot()
    app = next(c for c in second.containers if c["id"] == CID)
    dt = app["timestamp"] - next(c for c in first.containers if c["id"] == CID)["timestamp"]
    assert app["cpu_nanocores"] == int(10**9 / dt)

    doc = summary("node-1", second, node_fs_path=str(tree), image_fs_path=str(tree),
                  devices={"uid-1": {"app": ["GPU-0"]}}, gpu_source=None)
    assert doc["node"]["nodeName"] == "node-1" and doc["node"]["fs"]["capacityBytes"] > 0
    (pod,) = doc["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "shop", "uid": "uid-1"}
    assert [c["name"] for c in pod["containers"]] == ["app"]             # the sandbox is not listed
    c = pod["containers"][0]
    assert c["cpu"]["usageCoreNanoSeconds"] == 955458657 + 10**9
    assert c["memory"]["workingSetBytes"] == 3076096 - 2732032
    assert c["memory"]["availableBytes"] == (64 << 20) - (3076096 - 2732032)
    assert c["startTime"] == "2026-01-02T03:04:05Z"
    assert c["logs"]["usedBytes"] == 1234 and c["logs"]["capacityBytes"] > 0
    assert pod["ephemeral-storage"]["usedBytes"] == 1234
    # the pod: its containers and its sandbox added up (what a pod cgroup holds)
    assert pod["memory"]["workingSetBytes"] == 2 * (3076096 - 2732032)
    assert pod["cpu"]["usageCoreNanoSeconds"] == 2 * 955458657 + 10**9
    assert pod["process_stats"] == {"process_count": 2}
    assert pod["network"]["rxBytes"] == 516
    (gpu,) = c["accelerators"]
    assert (gpu["id"], gpu["model"], gpu["memoryUsed"]) == ("GPU-0", "simulated", 3076096 - 2732032)
    assert 0 <= gpu["dutyCycle"] <= 100


def test_a_container_without_cgroup_is_skipped_not_fatal(tree):
    rt = FakeRuntime([info(CID, "app"), info("f" * 64, "gone")])
    snap = StatsCollector(rt, cgroup_root=str(tree), proc=os.path.join(DATA, "proc")).snapshot()
    assert [c["id"] for c in snap.containers] == [CID] and snap.errors == 1


def test_hollow_containers_are_not_looked_for(tree):
    """A hollow node's containers have no cgroup: the collector does not search for one
    (as kubemark's fake cAdvisor); the node's own figures are still there."""
    from minikube_py.kubelet.runtime.hollow import HollowRuntime
    rt = HollowRuntime("hollow-0")
    pod = {"metadata": {"name": "web", "namespace": "shop", "uid": "uid-1"}}
    rt.start_container(pod, {"name": "app", "image": "busybox"}, rt.create_sandbox(pod))
    assert len(rt.running_containers()) == 2
    snap = StatsCollector(rt, cgroup_root=str(tree), proc=os.path.join(DATA, "proc")).snapshot()
    assert snap.containers == [] and snap.errors == 0
    assert snap.node["cpu_usage_ns"] > 0


def test_simulated_gpu_figures_follow_the_container():
    (g,) = accelerators.container_accelerators(["GPU-3"], None, 2_000_000_000, 5 << 20)
    assert g == {"make": "nvidia", "model": "simulated", "id": "GPU-3",
                 "memoryTotal": accelerators.SIMULATED_MEMORY_BYTES, "memoryUsed": 5 << 20,
                 "dutyCycle": 100}


def test_resource_metrics_text_uses_kubelets_names(tree):
    rt = FakeRuntime([info(CID, "app"), info("0" * 64, "POD", kind="sandbox", pid=SANDBOX_PID)])
    col = StatsCollector(rt, cgroup_root=str(tree), proc=os.path.join(DATA, "proc"), min_interval=0)
    text = resourcemetrics.render(summary("n", col.snapshot(), node_fs_path=str(tree))).decode()
    assert "scrape_error 0.0" in text
    assert 'container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web"} 0.955458657 ' in text
    assert 'container_memory_working_set_bytes{container="app",namespace="shop",pod="web"} 344064.0 ' in text
    assert 'pod_memory_working_set_bytes{namespace="shop",pod="web"} 688128.0 ' in text
    assert "node_cpu_usage_seconds_total " in text and "node_memory_working_set_bytes " in text
    assert "_created" not in text
    assert "scrape_error 1.0" in resourcemetrics.render(None).decode()
