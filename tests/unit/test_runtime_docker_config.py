"""The pure part of the Docker runtime: pod/container spec -> Docker create arguments, env, volumes."""

import os

import docker
import pytest

from minikube_py.kubelet.runtime import base
from minikube_py.kubelet.runtime.base import (
    ContainerStartError, RuntimeUnavailable, container_name, parse_container_name, parse_time,
    rfc3339,
)
from minikube_py.api.defaults import image_pull_policy as default_pull_policy
from minikube_py.kubelet.envvars import expand_vars, resolve_env
from minikube_py.kubelet.runtime.docker import DockerRuntime, _demux
from minikube_py.kubelet.runtime.dockerconfig import (
    container_config, container_info as _info, cpu_quota, cpu_shares, sandbox_config,
)
from minikube_py.kubelet.volumes import prepare_volumes

UID = "0f6c3a52-1111-2222-3333-444455556666"


def make_pod(**spec):
    spec.setdefault("containers", [{"name": "app", "image": "busybox"}])
    return {"metadata": {"name": "web-1", "namespace": "shop", "uid": UID,
                         "labels": {"app": "web"}, "annotations": {"team": "blue"}},
            "spec": spec}


def cfg(spec, pod=None, **kw):
    pod = pod or make_pod(containers=[spec])
    kw.setdefault("sandbox_id", "sb123")
    kw.setdefault("node_name", "node-a")
    return container_config(pod, spec, **kw)


# ------------------------------------------------------------------ names & labels
def test_runtime_container_name_roundtrip():
    name = container_name("app", "web-1", "shop", UID, 3)
    assert name == "k8s_app_web-1_shop_0f6c3a52_3"
    assert parse_container_name("/" + name) == {
        "container": "app", "pod_name": "web-1", "namespace": "shop",
        "uid8": "0f6c3a52", "restart_count": 3}
    assert parse_container_name("some_other") is None


def test_runtime_labels_and_name():
    spec = {"name": "app", "image": "busybox"}
    kw = cfg(spec, restart_count=2, kind="init")
    assert kw["name"] == "k8s_app_web-1_shop_0f6c3a52_2"
    labels = kw["labels"]
    assert labels[base.LABEL_NODE] == "node-a"
    assert labels[base.LABEL_POD_NAMESPACE] == "shop"
    assert labels[base.LABEL_POD_NAME] == "web-1"
    assert labels[base.LABEL_POD_UID] == UID
    assert labels[base.LABEL_CONTAINER_NAME] == "app"
    assert labels[base.LABEL_RESTART_COUNT] == "2"
    assert labels[base.LABEL_KIND] == "init"
    assert len(labels[base.LABEL_CONTAINER_HASH]) == 16
    assert kw["network_mode"] == "container:sb123"
    assert kw["ipc_mode"] == "container:sb123"
    assert "hostname" not in kw          # the sandbox owns the hostname


def test_runtime_container_hash_changes_with_spec():
    a = cfg({"name": "app", "image": "busybox"})
    b = cfg({"name": "app", "image": "busybox:1.35"})
    assert a["labels"][base.LABEL_CONTAINER_HASH] != b["labels"][base.LABEL_CONTAINER_HASH]


def test_runtime_bad_kind():
    with pytest.raises(ValueError):
        cfg({"name": "app", "image": "busybox"}, kind="sandbox")


# ------------------------------------------------------------------ command / args
def test_runtime_command_and_args_mapping():
    only_cmd = cfg({"name": "a", "image": "x", "command": ["sleep", "5"]})
    assert only_cmd["entrypoint"] == ["sleep", "5"] and "command" not in only_cmd
    only_args = cfg({"name": "a", "image": "x", "args": ["-v"]})
    assert only_args["command"] == ["-v"] and "entrypoint" not in only_args
    both = cfg({"name": "a", "image": "x", "command": ["sh", "-c"], "args": ["echo hi"]})
    assert both["entrypoint"] == ["sh", "-c"] and both["command"] == ["echo hi"]
    neither = cfg({"name": "a", "image": "x"})
    assert "entrypoint" not in neither and "command" not in neither


def test_runtime_var_expansion_in_args():
    spec = {"name": "a", "image": "x", "command": ["echo", "$(GREETING)", "$$(GREETING)", "$(NOPE)"]}
    kw = cfg(spec, env={"GREETING": "hi"})
    assert kw["entrypoint"] == ["echo", "hi", "$(GREETING)", "$(NOPE)"]


def test_runtime_expand_vars():
    assert expand_vars("a$(X)b$$c$(Y)", {"X": "1"}) == "a1b$c$(Y)"


def test_runtime_working_dir_tty_stdin():
    kw = cfg({"name": "a", "image": "x", "workingDir": "/srv", "tty": True, "stdin": True})
    assert kw["working_dir"] == "/srv" and kw["tty"] and kw["stdin_open"]


# ------------------------------------------------------------------ env
def test_runtime_env_values_fieldrefs_and_extra():
    spec = {"name": "a", "image": "x", "env": [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "$(A)-2"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}},
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
    ]}
    env = resolve_env(make_pod(containers=[spec]), spec, node_name="node-a", pod_ip="10.0.0.7",
                      extra_env={"SECRET": "s3cr3t", "NVIDIA_VISIBLE_DEVICES": "GPU-1"})
    assert env == {"A": "1", "B": "1-2", "POD": "web-1", "NS": "shop", "IP": "10.0.0.7",
                   "NODE": "node-a", "APP": "web", "TEAM": "blue", "SECRET": "s3cr3t",
                   "NVIDIA_VISIBLE_DEVICES": "GPU-1"}


def test_runtime_env_resource_field_ref():
    spec = {"name": "a", "image": "x",
            "resources": {"limits": {"memory": "64Mi", "cpu": "1500m"}},
            "env": [{"name": "MEM", "valueFrom": {"resourceFieldRef": {
                         "resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}
    env = resolve_env(make_pod(containers=[spec]), spec)
    assert env == {"MEM": "64", "CPU": "2"}


def test_runtime_env_unresolvable_is_config_error():
    spec = {"name": "a", "image": "x",
            "env": [{"name": "S", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]}
    with pytest.raises(ContainerStartError) as e:
        resolve_env(make_pod(containers=[spec]), spec)
    assert e.value.reason == "CreateContainerConfigError"


# ------------------------------------------------------------------ resources
def test_runtime_kubernetes_cpu_formulas():
    assert cpu_shares(0) == 2 and cpu_shares(1) == 2 and cpu_shares(100) == 102
    assert cpu_shares(1000) == 1024 and cpu_shares(2500) == 2560
    assert cpu_quota(250) == 25000 and cpu_quota(1) == 1000 and cpu_quota(2000) == 200000


def test_runtime_resources_mapping():
    kw = cfg({"name": "a", "image": "x", "resources": {
        "limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m"}}})
    assert kw["cpu_period"] == 100000 and kw["cpu_quota"] == 50000
    assert kw["cpu_shares"] == 102
    assert kw["mem_limit"] == 64 * 2**20 and kw["memswap_limit"] == 64 * 2**20


def test_runtime_resources_request_defaults_to_limit_and_best_effort():
    kw = cfg({"name": "a", "image": "x", "resources": {"limits": {"cpu": "2"}}})
    assert kw["cpu_shares"] == 2048 and kw["cpu_quota"] == 200000
    kw = cfg({"name": "a", "image": "x"})
    assert kw["cpu_shares"] == 2 and "cpu_quota" not in kw and "mem_limit" not in kw


# ------------------------------------------------------------------ security / gpu
def test_runtime_security_context():
    pod = make_pod(securityContext={"runAsUser": 1000, "supplementalGroups": [5]},
                   containers=[])
    spec = {"name": "a", "image": "x", "securityContext": {
        "runAsGroup": 2000, "privileged": True, "readOnlyRootFilesystem": True,
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}
    kw = cfg(spec, pod=pod)
    assert kw["user"] == "1000:2000" and kw["privileged"] and kw["read_only"]
    assert kw["cap_add"] == ["NET_ADMIN"] and kw["cap_drop"] == ["ALL"]
    assert kw["group_add"] == ["5"]


def test_runtime_gpu_runtime_and_device_requests():
    dr = [docker.types.DeviceRequest(driver="nvidia", device_ids=["0"], capabilities=[["gpu"]])]
    kw = cfg({"name": "a", "image": "x"}, runtime="nvidia", device_requests=dr,
             env={"NVIDIA_VISIBLE_DEVICES": "0"})
    assert kw["runtime"] == "nvidia" and kw["device_requests"] == dr
    assert kw["environment"] == {"NVIDIA_VISIBLE_DEVICES": "0"}
    plain = cfg({"name": "a", "image": "x"})
    assert "runtime" not in plain and "device_requests" not in plain


def test_runtime_share_process_namespace():
    pod = make_pod(shareProcessNamespace=True)
    kw = cfg(pod["spec"]["containers"][0], pod=pod)
    assert kw["pid_mode"] == "container:sb123"


# ------------------------------------------------------------------ volumes
def test_runtime_volume_mounts():
    spec = {"name": "a", "image": "x", "volumeMounts": [
        {"name": "data", "mountPath": "/data"},
        {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True},
        {"name": "data", "mountPath": "/logs", "subPath": "logs"}]}
    kw = cfg(spec, volume_host_paths={"data": "/h/data", "cfg": "/h/cfg"})
    mounts = [(m["Target"], m["Source"], m["Type"], m["ReadOnly"]) for m in kw["mounts"]]
    assert mounts == [("/data", "/h/data", "bind", False), ("/etc/cfg", "/h/cfg", "bind", True),
                      ("/logs", "/h/data/logs", "bind", False)]


def test_runtime_volume_missing_is_config_error():
    spec = {"name": "a", "image": "x", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}
    with pytest.raises(ContainerStartError) as e:
        cfg(spec, volume_host_paths={})
    assert e.value.reason == "CreateContainerConfigError"


def test_runtime_prepare_volumes(tmp_path):
    host_dir = tmp_path / "host" / "made"
    host_file = tmp_path / "host" / "f.txt"
    pod = make_pod(volumes=[
        {"name": "scratch", "emptyDir": {}},
        {"name": "hp", "hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"}},
        {"name": "hf", "hostPath": {"path": str(host_file), "type": "FileOrCreate"}},
        {"name": "cm", "configMap": {"name": "x"}},
    ])
    paths = prepare_volumes(pod, str(tmp_path / "state"))
    assert paths["scratch"] == str(tmp_path / "state" / "pods" / UID / "volumes"
                                   / "kubernetes.io~empty-dir" / "scratch")
    assert os.path.isdir(paths["scratch"])
    assert os.stat(paths["scratch"]).st_mode & 0o777 == 0o777
    assert paths["hp"] == str(host_dir) and host_dir.is_dir()
    assert paths["hf"] == str(host_file) and host_file.is_file()
    assert "cm" not in paths                  # for the caller to provide


def test_runtime_prepare_volumes_type_check(tmp_path):
    pod = make_pod(volumes=[{"name": "d", "hostPath": {"path": str(tmp_path / "missing"),
                                                        "type": "Directory"}}])
    with pytest.raises(ContainerStartError):
        prepare_volumes(pod, str(tmp_path))


# ------------------------------------------------------------------ sandbox
def test_runtime_sandbox_config():
    pod = make_pod(
        containers=[{"name": "a", "image": "x",
                     "ports": [{"containerPort": 80, "hostPort": 8080},
                               {"containerPort": 53, "hostPort": 5353, "protocol": "UDP",
                                "hostIP": "127.0.0.1"},
                               {"containerPort": 9000}]}],
        dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["svc.local"],
                   "options": [{"name": "ndots", "value": "2"}]},
        hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo", "bar"]}],
        terminationGracePeriodSeconds=5)
    kw = sandbox_config(pod, node_name="node-a", image="pause:x", network="labnet", attempt=1)
    assert kw["image"] == "pause:x"
    assert kw["name"] == "k8s_POD_web-1_shop_0f6c3a52_1"
    assert kw["labels"][base.LABEL_CONTAINER_NAME] == "POD"
    assert kw["labels"][base.LABEL_KIND] == "sandbox"
    assert kw["labels"][base.LABEL_GRACE_PERIOD] == "5"
    assert kw["network"] == "labnet" and kw["hostname"] == "web-1"
    assert kw["ports"] == {"80/tcp": 8080, "53/udp": ("127.0.0.1", 5353)}
    assert kw["dns"] == ["1.1.1.1"] and kw["dns_search"] == ["svc.local"]
    assert kw["dns_opt"] == ["ndots:2"]
    assert kw["extra_hosts"] == {"foo": "10.1.2.3", "bar": "10.1.2.3"}


def test_runtime_sandbox_host_network_and_long_hostname():
    pod = make_pod(hostNetwork=True)
    kw = sandbox_config(pod, node_name="n")
    assert kw["network_mode"] == "host" and "hostname" not in kw and "network" not in kw
    pod = make_pod()
    pod["metadata"]["name"] = "x" * 62 + "-abc"
    assert sandbox_config(pod, node_name="n")["hostname"] == "x" * 62


# ------------------------------------------------------------------ images
def test_runtime_default_pull_policy():
    assert default_pull_policy("busybox") == "Always"
    assert default_pull_policy("busybox:latest") == "Always"
    assert default_pull_policy("busybox:1.35") == "IfNotPresent"
    assert default_pull_policy("localhost:5000/img") == "Always"
    assert default_pull_policy("localhost:5000/img:v1") == "IfNotPresent"
    assert default_pull_policy("img@sha256:abcd") == "IfNotPresent"


# ------------------------------------------------------------------ inspect parsing
def _attrs(status, exit_code=0, error="", oom=False, pid=0):
    return {"Id": "c1", "Name": "/k8s_app_web-1_shop_0f6c3a52_4", "Image": "sha256:img",
            "Created": "2024-05-01T10:00:00.123456789Z",
            "Config": {"Image": "busybox", "Labels": {
                base.LABEL_NODE: "n", base.LABEL_POD_UID: UID, base.LABEL_POD_NAME: "web-1",
                base.LABEL_POD_NAMESPACE: "shop", base.LABEL_CONTAINER_NAME: "app",
                base.LABEL_KIND: "app", base.LABEL_RESTART_COUNT: "4"}},
            "State": {"Status": status, "ExitCode": exit_code, "Error": error,
                      "OOMKilled": oom, "Pid": pid,
                      "StartedAt": "2024-05-01T10:00:01.5Z",
                      "FinishedAt": "0001-01-01T00:00:00Z"}}


def test_runtime_info_states():
    running = _info(_attrs("running", pid=42))
    assert running.state == "running" and running.exit_code is None and running.pid == 42
    assert running.restart_count == 4 and running.container_name == "app"
    assert running.name == "k8s_app_web-1_shop_0f6c3a52_4"
    assert rfc3339(running.started_at) == "2024-05-01T10:00:01Z" and running.finished_at is None
    assert _info(_attrs("created")).state == "created"
    done = _info(_attrs("exited", 0))
    assert (done.state, done.exit_code, done.reason) == ("exited", 0, "Completed")
    failed = _info(_attrs("exited", 2))
    assert (failed.state, failed.exit_code, failed.reason) == ("exited", 2, "Error")
    oom = _info(_attrs("exited", 137, oom=True))
    assert oom.reason == "OOMKilled" and oom.oom_killed
    start_error = _info(_attrs("created", 127, error='exec: "nope": executable file not found'))
    assert (start_error.state, start_error.exit_code, start_error.reason) == \
        ("exited", 127, "StartError")


def test_runtime_parse_time():
    t = parse_time("2024-05-01T10:00:00.123456789Z")
    assert t.microsecond == 123456 and t.tzinfo is not None
    assert rfc3339(parse_time("2024-05-01T12:00:00+02:00")) == "2024-05-01T10:00:00Z"
    assert parse_time("0001-01-01T00:00:00Z") is None and parse_time("") is None


def test_runtime_demux():
    framed = b"\x01\0\0\0\0\0\0\x03out" + b"\x02\0\0\0\0\0\0\x04err\n"
    assert _demux(framed) == b"outerr\n"
    assert _demux(b"plain tty output") == b"plain tty output"


# ------------------------------------------------------------------ engine unreachable
def test_runtime_unavailable_when_docker_is_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    rt = DockerRuntime("n", state_dir=str(tmp_path))
    with pytest.raises(RuntimeUnavailable):
        rt.ping()
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/no-docker.sock", version="1.41")
    rt = DockerRuntime("n", client=client, state_dir=str(tmp_path))
    with pytest.raises(RuntimeUnavailable):
        rt.ping()
    with pytest.raises(RuntimeUnavailable):
        rt.list_containers()
