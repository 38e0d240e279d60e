"""The kubelet's DeviceManager with the simulated plugin running as its own process.

The plugin is started with the real command line (`python -m
minikube_py.deviceplugin.command simulated ...`), killed and restarted like a
real plugin; the manager is stopped and started again on the same checkpoint
like a restarting kubelet. Short poll intervals and grace periods keep it fast.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from minikube_py.deviceplugin.simulated import gpu_uuid
from minikube_py.kubelet.devices import DeviceAllocationError, DeviceManager

GPU = "nvidia.com/gpu"
GRACE = 0.5


def wait_for(cond, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def pod(uid, gpus=1, containers=None, init=None):
    containers = containers or [{"name": "main", "image": "busybox",
                                 "resources": {"limits": {GPU: str(gpus)}}}]
    spec = {"containers": containers}
    if init:
        spec["initContainers"] = init
    return {"metadata": {"uid": uid, "name": uid, "namespace": "default"}, "spec": spec}


class Env:
    """A device-plugins dir with a DeviceManager and a simulated plugin process."""

    def __init__(self, count=2):
        self.dir = tempfile.mkdtemp(prefix="dp-", dir="/tmp")
        self.checkpoint = os.path.join(self.dir, "device-checkpoint.json")
        self.count = count
        self.node = f"node-{os.urandom(3).hex()}"
        self.plugin = None
        self.mgr = None
        self.changes = 0
        self._cv = threading.Condition()

    def on_change(self):
        with self._cv:
            self.changes += 1

    def start_manager(self):
        self.mgr = DeviceManager(self.dir, self.checkpoint, on_change=self.on_change,
                                 stop_grace_period=GRACE, timeout=2)
        self.mgr.start()
        return self.mgr

    def start_plugin(self, *extra):
        self.plugin_log = open(os.path.join(self.dir, "plugin.log"), "ab")
        self.plugin = subprocess.Popen(
            [sys.executable, "-m", "minikube_py.deviceplugin.command", "simulated",
             "--count", str(self.count), "--plugin-dir", self.dir, "--node-name", self.node,
             "--poll-interval", "0.05", *extra],
            stdout=self.plugin_log, stderr=subprocess.STDOUT)
        return self.plugin

    def log(self):
        with open(os.path.join(self.dir, "plugin.log")) as f:
            return f.read()[-3000:]

    def wait_allocatable(self, n):
        wait_for(lambda: self.mgr.allocatable().get(GPU) == n,
                 what=f"allocatable {n} (now {self.mgr.allocatable()}); plugin log:\n{self.log()}")

    def set_unhealthy(self, *ids):
        tmp = os.path.join(self.dir, ".health.tmp")
        with open(tmp, "w") as f:
            json.dump({"unhealthy": list(ids)}, f)
        os.replace(tmp, os.path.join(self.dir, "simulated-health.json"))

    def close(self):
        if self.plugin and self.plugin.poll() is None:
            self.plugin.kill()
            self.plugin.wait()
        if self.mgr:
            self.mgr.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def env():
    e = Env()
    yield e
    e.close()


def test_capacity_allocation_health_plugin_death_and_restarts(env):
    mgr = env.start_manager()
    env.start_plugin()
    env.wait_allocatable(2)
    assert mgr.capacity() == {GPU: 2}
    wait_for(lambda: env.changes >= 1, what="on_change")

    # Two pods get distinct GPUs; a third does not fit.
    a = mgr.allocate(pod("pod-a"))["main"]
    b = mgr.allocate(pod("pod-b"))["main"]
    assert {a["device_ids"][0], b["device_ids"][0]} == {"GPU-0", "GPU-1"}
    assert a["resource"] == GPU and a["env"]["NVIDIA_VISIBLE_DEVICES"] == a["device_ids"][0]
    described = json.loads(a["env"]["MINIKUBE_PY_SIMULATED_GPUS"])
    assert described[0]["uuid"] == gpu_uuid(env.node, int(a["device_ids"][0][-1]))
    with pytest.raises(DeviceAllocationError) as err:
        mgr.allocate(pod("pod-c"))
    assert err.value.reason == "UnexpectedAdmissionError" and "Available: 0" in err.value.message
    assert "pod-c" not in mgr.assignments()

    # Release frees; the freed GPU goes to the next pod.
    mgr.release("pod-b")
    c = mgr.allocate(pod("pod-c"))["main"]
    assert c["device_ids"] == b["device_ids"]
    mgr.release("pod-c")

    # Flip health: allocatable drops, the kubelet is told, new pods avoid the GPU.
    changes = env.changes
    free = b["device_ids"][0]
    env.set_unhealthy(free)
    env.wait_allocatable(1)
    assert mgr.capacity() == {GPU: 2}
    wait_for(lambda: env.changes > changes, what="on_change after the health flip")
    with pytest.raises(DeviceAllocationError):
        mgr.allocate(pod("pod-d"))
    env.set_unhealthy()
    env.wait_allocatable(2)
    assert mgr.allocate(pod("pod-d"))["main"]["device_ids"] == [free]

    # Kill the plugin: its devices leave allocatable at once, capacity after the grace.
    env.plugin.send_signal(signal.SIGKILL)
    env.plugin.wait()
    env.wait_allocatable(0)
    wait_for(lambda: mgr.capacity() == {GPU: 0}, what="capacity 0 after the grace period")
    with pytest.raises(DeviceAllocationError):
        mgr.allocate(pod("pod-e"))
    assert mgr.assignments()["pod-a"] == {"main": a["device_ids"]}   # running pods keep theirs

    # The plugin comes back (its old socket file is still there): devices come back.
    env.start_plugin()
    env.wait_allocatable(2)
    assert mgr.capacity() == {GPU: 2}
    with pytest.raises(DeviceAllocationError):                       # both GPUs are still held
        mgr.allocate(pod("pod-e"))

    # The kubelet restarts: a new DeviceManager on the same checkpoint.
    before = mgr.assignments()
    mgr.stop()
    mgr2 = env.start_manager()
    assert mgr2.assignments() == before == {"pod-a": {"main": a["device_ids"]},
                                            "pod-d": {"main": [free]}}
    env.wait_allocatable(2)                                          # the plugin re-registered
    assert mgr2.allocate(pod("pod-a"))["main"]["env"] == a["env"]    # same answer, from the checkpoint
    with pytest.raises(DeviceAllocationError):
        mgr2.allocate(pod("pod-e"))                                  # never a GPU twice
    mgr2.retain_only({"pod-d"})                                      # pod-a went away meanwhile
    assert mgr2.allocate(pod("pod-e"))["main"]["device_ids"] == a["device_ids"]

    env.plugin.send_signal(signal.SIGTERM)                           # a clean exit removes the socket
    assert env.plugin.wait(10) == 0
    env.wait_allocatable(0)
    assert not os.path.exists(os.path.join(env.dir, "simulated-gpu.sock"))


def test_init_containers_reuse_and_all_or_nothing(env):
    env.count = 3
    mgr = env.start_manager()
    env.start_plugin()
    env.wait_allocatable(3)
    # An init container's GPU is handed on to the app container after it (they never overlap).
    p = pod("pod-init", init=[{"name": "setup", "resources": {"limits": {GPU: "1"}}}],
            containers=[{"name": "train", "resources": {"limits": {GPU: "2"}}},
                        {"name": "sidecar", "resources": {"limits": {"cpu": "1"}}}])
    alloc = mgr.allocate(p)
    assert set(alloc) == {"setup", "train"}
    assert alloc["setup"]["device_ids"][0] in alloc["train"]["device_ids"]
    assert len(set(alloc["train"]["device_ids"])) == 2
    # Two app containers needing 2 + 2 on the one free GPU: nothing is kept.
    big = pod("pod-big", containers=[{"name": "a", "resources": {"limits": {GPU: "1"}}},
                                     {"name": "b", "resources": {"limits": {GPU: "2"}}}])
    with pytest.raises(DeviceAllocationError):
        mgr.allocate(big)
    assert "pod-big" not in mgr.assignments()
    # Fractions make no sense for devices; unknown resources are not ours to allocate.
    with pytest.raises(DeviceAllocationError, match="whole"):
        mgr.allocate(pod("pod-frac", containers=[{"name": "a", "resources": {"limits": {GPU: "500m"}}}]))
    assert mgr.allocate(pod("pod-other", containers=[
        {"name": "a", "resources": {"limits": {"example.com/fpga": "1", "cpu": "2"}}}])) == {}
    with pytest.raises(DeviceAllocationError, match="uid"):
        mgr.allocate({"metadata": {"name": "no-uid"}, "spec": {"containers": []}})


def test_damaged_checkpoint_is_set_aside(env):
    with open(env.checkpoint, "w") as f:
        f.write('{"kind": "DeviceManagerCheckpoint", "data": {')
    mgr = env.start_manager()
    assert mgr.assignments() == {} and os.path.exists(env.checkpoint + ".corrupt")
    env.start_plugin()
    env.wait_allocatable(2)
    mgr.allocate(pod("pod-a"))
    # Restart without the plugin: the checkpoint's devices count in capacity, not in
    # allocatable, until the grace period is over.
    env.plugin.kill()
    env.plugin.wait()
    mgr.stop()
    mgr = env.start_manager()
    assert mgr.assignments() == {"pod-a": {"main": ["GPU-0"]}}
    assert mgr.capacity() == {GPU: 2} and mgr.allocatable() == {GPU: 0}
    wait_for(lambda: mgr.capacity() == {GPU: 0}, what="capacity 0 after the grace period")


def test_command_line_refuses_bad_flags(env):
    for args, hint in ((["--resource", "gpu"], "--resource"), (["--unhealthy", "GPU-9"], "--unhealthy"),
                       (["--count", "-1"], "--count")):
        proc = subprocess.run([sys.executable, "-m", "minikube_py.deviceplugin.command", "simulated",
                               "--plugin-dir", env.dir, "--count", "2", *args],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and hint in proc.stderr, proc.stderr


def test_plugin_serves_again_when_its_socket_is_removed(env):
    """A real kubelet wipes the device-plugins dir at start; plugins must come back by themselves."""
    mgr = env.start_manager()
    env.start_plugin()
    env.wait_allocatable(2)
    os.unlink(os.path.join(env.dir, "simulated-gpu.sock"))
    wait_for(lambda: env.log().count("registered with the kubelet") >= 2, what="re-registration")
    assert "our socket" in env.log() and env.plugin.poll() is None
    env.wait_allocatable(2)
    assert mgr.allocate(pod("pod-a"))["main"]["device_ids"] == ["GPU-0"]   # the new connection works
