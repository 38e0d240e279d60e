"""Small parts of the kubelet: device arguments to Docker, the hollow runtime, the event filter."""
import docker.types

from minikube_py.kubelet import events
from minikube_py.kubelet.devices.runoptions import run_options
from minikube_py.kubelet.podview import PodView
from minikube_py.kubelet.runtime.dockerconfig import container_config
from minikube_py.kubelet.runtime.hollow import HollowRuntime

POD = {"metadata": {"name": "p", "namespace": "default", "uid": "0123456789abcdef"},
       "spec": {"containers": [{"name": "cuda", "image": "busybox"}],
                "initContainers": [{"name": "setup", "image": "busybox"}]}}


def test_device_allocation_becomes_docker_arguments():
    alloc = {"cuda": {"env": {"NVIDIA_VISIBLE_DEVICES": "GPU-1"}, "device_ids": ["GPU-1"],
                      "resource": "nvidia.com/gpu",
                      "mounts": [{"container_path": "/usr/bin/x", "host_path": "/opt/x",
                                  "read_only": True}],
                      "devices": [{"container_path": "/dev/nvidia1", "host_path": "/dev/nvidia1",
                                   "permissions": "rw"}]}}
    args = run_options(alloc.get("cuda"), "runtime")
    assert args["runtime"] == "nvidia" and args["extra_env"] == {"NVIDIA_VISIBLE_DEVICES": "GPU-1"}
    assert run_options(alloc.get("other"), "runtime") == {}
    req = run_options(alloc.get("cuda"), "device-requests")["device_requests"][0]
    assert req["Driver"] == "nvidia" and req["DeviceIDs"] == ["GPU-1"]
    assert req["Capabilities"] == [["gpu"]]

    kwargs = container_config(POD, POD["spec"]["containers"][0], sandbox_id="sb", node_name="n",
                              env=args["extra_env"], runtime="nvidia",
                              extra_mounts=args["extra_mounts"], devices=args["devices"])
    assert kwargs["runtime"] == "nvidia"
    assert kwargs["devices"] == ["/dev/nvidia1:/dev/nvidia1:rw"]
    mount = kwargs["mounts"][0]
    assert isinstance(mount, docker.types.Mount)
    assert (mount["Target"], mount["Source"], mount["ReadOnly"]) == ("/usr/bin/x", "/opt/x", True)


def test_hollow_runtime_pretends_like_a_runtime():
    rt = HollowRuntime("h-0")
    sb = rt.create_sandbox(POD)
    ip = rt.sandbox_ip(sb)
    assert ip.startswith("10.") and ip != rt.sandbox_ip(rt.create_sandbox(POD))
    init = rt.start_container(POD, POD["spec"]["initContainers"][0], sb, 0, "init")
    app = rt.start_container(POD, POD["spec"]["containers"][0], sb, 0, "app")
    assert rt.inspect(init).state == "exited" and rt.inspect(init).exit_code == 0
    view = PodView(rt.list_containers(POD["metadata"]["uid"]))
    assert view.latest("cuda").id == app and view.latest("cuda").state == "running"
    assert {s for _, _, s in rt.relist()} == {"running", "exited"}
    assert rt.exec(app, ["true"]) == (0, b"") and list(rt.logs(app)) == []
    rt.stop_pod(POD["metadata"]["uid"])
    assert not [c for c in rt.list_containers() if c.state == "running"]
    assert rt.remove_pod(POD["metadata"]["uid"]) == 4
    assert rt.list_containers() == []


class _Client:
    """Records what the recorder sends (a unit test of the recorder's rules only)."""

    def __init__(self):
        self.created, self.patched = [], []

    def create_event(self, ref, reason, message, type, component, host):
        self.created.append((reason, message))
        return {"metadata": {"name": f"e{len(self.created)}", "namespace": "default"}}

    def patch(self, resource, name, body, namespace):
        self.patched.append((name, body["count"]))


def test_event_recorder_aggregates_repeats_and_filters_spam():
    now = [0.0]
    client = _Client()
    rec = events.recorder(client, "node-1", clock=lambda: now[0])
    ref = events.pod_ref(POD, "spec.containers{cuda}")
    for _ in range(3):
        rec.warning(ref, "BackOff", "Back-off restarting failed container")
        assert rec.flush(5)
    assert client.created == [("BackOff", "Back-off restarting failed container")]
    assert client.patched == [("e1", 2), ("e1", 3)]            # x3 on one Event
    for i in range(events.BURST + 10):                           # a storm about one pod
        rec.normal(ref, "Pulled", f"message {i}")
    assert rec.flush(5)
    assert len(client.created) == 1 + events.BURST - 3 and rec.dropped == 13
    now[0] += events.REFILL_SECONDS                              # a token comes back
    rec.normal(ref, "Pulled", "later")
    assert rec.flush(5) and client.created[-1] == ("Pulled", "later")
    rec.stop()
    assert events.container_field_path(POD, "setup") == "spec.initContainers{setup}"
