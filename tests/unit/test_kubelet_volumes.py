"""The kubelet's API-backed volumes and env, on plain dicts and a temporary directory.

The atomic writer (..data switch, modes, removal of keys), the payloads of
configMap/secret/downwardAPI/projected volumes (items, modes, optional), env
from ConfigMaps and Secrets (envFrom with prefix, key refs, optional, the
upstream error messages) and the volume manager's FailedMount / keep-last-files
rules.  ConfigMaps and Secrets come from ``Objects``, a dict standing in for the
ObjectCache's answers (the cache itself is exercised against a real apiserver
by tests/e2e/test_kubelet_config.py).
"""
import base64
import os
import stat

import pytest

from minikube_py.kubelet import atomicwriter
from minikube_py.kubelet.envvars import format_map, resolve_env
from minikube_py.kubelet.objectcache import ObjectError
from minikube_py.kubelet.projection import (
    ProjectionError, downward_api_payload, keys_payload, projected_payload, volume_payload,
)
from minikube_py.kubelet.runtime.base import ContainerStartError
from minikube_py.kubelet.volumemanager import VolumeManager

UID = "0f0e0d0c-1111-2222-3333-444455556666"


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


class Objects:
    """ConfigMaps and Secrets by name, answering as the ObjectCache does."""

    def __init__(self, configmaps=(), secrets=()):
        self.configmaps = {c["metadata"]["name"]: c for c in configmaps}
        self.secrets = {s["metadata"]["name"]: s for s in secrets}

    def configmap(self, namespace, name):
        if name not in self.configmaps:
            raise ObjectError(f'configmap "{name}" not found', not_found=True)
        return self.configmaps[name]

    def secret(self, namespace, name):
        if name not in self.secrets:
            raise ObjectError(f'secret "{name}" not found', not_found=True)
        return self.secrets[name]

    def token(self, pod, audience, expiration):
        return b""


def cm(name, data=None, binary=None):
    out = {"metadata": {"name": name, "namespace": "shop"}, "data": data or {}}
    if binary:
        out["binaryData"] = binary
    return out


def secret(name, **data):
    return {"metadata": {"name": name, "namespace": "shop"}, "type": "Opaque",
            "data": {k: b64(v) for k, v in data.items()}}


def make_pod(containers=None, volumes=None, labels=None, annotations=None):
    return {"metadata": {"name": "web-1", "namespace": "shop", "uid": UID,
                         "labels": labels or {}, "annotations": annotations or {}},
            "spec": {"containers": containers or [{"name": "app", "image": "busybox"}],
                     "volumes": volumes or []}}


def files(path) -> dict:
    """{name: (text, mode)} of the user-visible entries of a volume directory."""
    out = {}
    for name in sorted(os.listdir(path)):
        if name.startswith(".."):
            continue
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full) as f:
                out[name] = (f.read(), stat.S_IMODE(os.stat(full).st_mode))
    return out


# ------------------------------------------------------------------ atomic writer
def test_atomic_writer_layout_and_update(tmp_path):
    target = str(tmp_path / "vol")
    assert atomicwriter.write(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o400)})
    first = os.readlink(os.path.join(target, "..data"))
    assert first.startswith("..") and os.path.isdir(os.path.join(target, first))
    assert os.readlink(os.path.join(target, "a")) == "..data/a"
    assert os.readlink(os.path.join(target, "dir")) == "..data/dir"
    with open(os.path.join(target, "dir", "b")) as f:
        assert f.read() == "2"
    assert stat.S_IMODE(os.stat(os.path.join(target, "dir", "b")).st_mode) == 0o400

    # the same payload again: nothing is rewritten
    assert not atomicwriter.write(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o400)})
    assert os.readlink(os.path.join(target, "..data")) == first

    # an update swaps ..data to a new directory; a dropped key disappears, the old dir goes
    assert atomicwriter.write(target, {"a": (b"changed", 0o600)})
    second = os.readlink(os.path.join(target, "..data"))
    assert second != first and not os.path.exists(os.path.join(target, first))
    assert files(target) == {"a": ("changed", 0o600)}
    assert not os.path.lexists(os.path.join(target, "dir"))
    assert atomicwriter.read_payload(target) == {"a": (b"changed", 0o600)}


def test_atomic_writer_refuses_bad_paths(tmp_path):
    for bad in ("/etc/passwd", "../up", "a/../../b", "..hidden", ""):
        with pytest.raises(atomicwriter.PayloadError):
            atomicwriter.write(str(tmp_path / "vol"), {bad: (b"x", 0o644)})
    assert not os.path.lexists(tmp_path / "vol" / "..data")       # nothing half-written


# ------------------------------------------------------------------ payloads
def test_configmap_payload_all_keys_items_and_modes():
    obj = cm("game", {"lives": "3", "ui.properties": "color=red\n"}, binary={"logo": b64("PNG")})
    assert keys_payload("configmap", obj, None, 0o644, False) == {
        "lives": (b"3", 0o644), "ui.properties": (b"color=red\n", 0o644), "logo": (b"PNG", 0o644)}
    items = [{"key": "lives", "path": "conf/lives.txt", "mode": 0o400},
             {"key": "ui.properties", "path": "ui"}]
    assert keys_payload("configmap", obj, items, 0o640, False) == {
        "conf/lives.txt": (b"3", 0o400), "ui": (b"color=red\n", 0o640)}


def test_missing_key_is_an_error_unless_optional():
    obj = cm("game", {"lives": "3"})
    with pytest.raises(ProjectionError, match="configmap references non-existent config key: x"):
        keys_payload("configmap", obj, [{"key": "x", "path": "x"}], 0o644, False)
    assert keys_payload("configmap", obj, [{"key": "x", "path": "x"}], 0o644, True) == {}
    with pytest.raises(ProjectionError, match="secret references non-existent secret key: x"):
        keys_payload("secret", secret("s", a="1"), [{"key": "x", "path": "x"}], 0o644, False)


def test_secret_volume_is_decoded_and_missing_object_fails():
    objects = Objects(secrets=[secret("db", password="s3cr3t")])
    vol = {"name": "creds", "secret": {"secretName": "db", "defaultMode": 0o400}}
    plugin, payload = volume_payload(make_pod(), vol, objects)
    assert plugin == "kubernetes.io~secret" and payload == {"password": (b"s3cr3t", 0o400)}
    with pytest.raises(ProjectionError, match='secret "nope" not found'):
        volume_payload(make_pod(), {"name": "x", "secret": {"secretName": "nope"}}, objects)
    # optional: an empty volume
    assert volume_payload(make_pod(), {"name": "x", "secret": {"secretName": "nope",
                                                               "optional": True}}, objects)[1] == {}


def test_downward_api_payload():
    pod = make_pod(containers=[{"name": "app", "image": "x",
                                "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}],
                   labels={"tier": "web", "app": "shop"}, annotations={"note": 'say "hi"'})
    items = [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
             {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}},
             {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
             {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}, "mode": 0o600},
             {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
             {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}},
             {"path": "cpu_limit", "resourceFieldRef": {"containerName": "app",
                                                        "resource": "limits.cpu", "divisor": "1m"}},
             {"path": "mem_limit", "resourceFieldRef": {"containerName": "app",
                                                        "resource": "limits.memory",
                                                        "divisor": "1Mi"}},
             {"path": "mem_request", "resourceFieldRef": {"containerName": "app",
                                                          "resource": "requests.memory"}}]
    payload = downward_api_payload(pod, items, 0o644)
    assert payload == {
        "name": (b"web-1", 0o644), "ns": (b"shop", 0o644), "uid": (UID.encode(), 0o644),
        "labels": (b'app="shop"\ntier="web"', 0o600),
        "annotations": (b'note="say \\"hi\\""', 0o644), "tier": (b"web", 0o644),
        "cpu_limit": (b"500", 0o644), "mem_limit": (b"64", 0o644), "mem_request": (b"0", 0o644)}
    assert format_map({}) == ""
    # a limit nobody set reads as the node's allocatable amount
    unlimited = make_pod()
    item = [{"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}}]
    assert downward_api_payload(unlimited, item, 0o644, lambda: {"cpu": "4"}) == {
        "cpu": (b"4", 0o644)}


def test_projected_volume_merges_sources_and_reports_every_failure():
    objects = Objects(configmaps=[cm("app", {"mode": "dev"})],
                      secrets=[secret("db", user="admin")])
    projected = {"defaultMode": 0o440, "sources": [
        {"configMap": {"name": "app", "items": [{"key": "mode", "path": "config/mode"}]}},
        {"secret": {"name": "db", "items": [{"key": "user", "path": "db/user", "mode": 0o400}]}},
        {"downwardAPI": {"items": [{"path": "pod", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 600}}]}
    assert projected_payload(make_pod(), projected, objects) == {
        "config/mode": (b"dev", 0o440), "db/user": (b"admin", 0o400), "pod": (b"web-1", 0o440),
        "token": (b"", 0o440)}
    broken = {"sources": [{"configMap": {"name": "gone"}}, {"secret": {"name": "gone-too"}}]}
    with pytest.raises(ProjectionError) as e:
        projected_payload(make_pod(), broken, objects)
    assert str(e.value) == '[configmap "gone" not found, secret "gone-too" not found]'


# ------------------------------------------------------------------ env
def test_env_from_configmaps_and_secrets():
    objects = Objects(configmaps=[cm("app", {"MODE": "dev", "LEVEL": "3", "bad key": "x"})],
                      secrets=[secret("db", USER="admin", PASSWORD="s3cr3t")])
    spec = {"name": "app", "image": "x",
            "envFrom": [{"configMapRef": {"name": "app"}},
                        {"secretRef": {"name": "db"}, "prefix": "DB_"},
                        {"configMapRef": {"name": "absent", "optional": True}}],
            "env": [{"name": "LEVEL", "value": "override-$(MODE)"},
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "PASSWORD"}}},
                    {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "MODE"}}},
                    {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "nope",
                                                                      "optional": True}}}]}
    warnings = []
    env = resolve_env(make_pod([spec]), spec, objects=objects,
                      warn=lambda reason, msg: warnings.append((reason, msg)))
    assert env == {"MODE": "dev", "LEVEL": "override-dev", "DB_USER": "admin",
                   "DB_PASSWORD": "s3cr3t", "PW": "s3cr3t", "M": "dev"}
    assert warnings == [("InvalidEnvironmentVariableNames",
                         "Keys [bad key] from the EnvFrom configMap shop/app were skipped since "
                         "they are considered invalid environment variable names.")]


@pytest.mark.parametrize("source, message", [
    ({"configMapKeyRef": {"name": "x", "key": "k"}}, 'configmap "x" not found'),
    ({"secretKeyRef": {"name": "x", "key": "k"}}, 'secret "x" not found'),
    ({"configMapKeyRef": {"name": "app", "key": "k"}}, "couldn't find key k in ConfigMap shop/app"),
])
def test_env_missing_refs_are_config_errors(source, message):
    objects = Objects(configmaps=[cm("app", {"MODE": "dev"})])
    spec = {"name": "app", "image": "x", "env": [{"name": "V", "valueFrom": source}]}
    with pytest.raises(ContainerStartError) as e:
        resolve_env(make_pod([spec]), spec, objects=objects)
    assert e.value.reason == "CreateContainerConfigError" and e.value.message == message
    spec = {"name": "app", "image": "x", "envFrom": [{"configMapRef": {"name": "x"}}]}
    with pytest.raises(ContainerStartError, match='configmap "x" not found'):
        resolve_env(make_pod([spec]), spec, objects=objects)


# ------------------------------------------------------------------ volume manager
class Recorder:
    def __init__(self):
        self.events = []

    def warning(self, ref, reason, message):
        self.events.append((reason, message))


def test_volume_manager_mounts_waits_and_keeps_last_files(tmp_path):
    objects, rec = Objects(), Recorder()
    vm = VolumeManager(str(tmp_path), objects, rec)
    pod = make_pod(volumes=[{"name": "scratch", "emptyDir": {}},
                            {"name": "cfg", "configMap": {"name": "app"}}])
    assert vm.mount(pod) is None                           # the ConfigMap is missing: wait
    assert rec.events == [("FailedMount",
                           'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found')]

    objects.configmaps["app"] = cm("app", {"mode": "dev"})
    mounted = vm.mount(pod)
    cfg = str(tmp_path / "pods" / UID / "volumes" / "kubernetes.io~configmap" / "cfg")
    assert mounted.paths["cfg"] == cfg and mounted.read_only == {"cfg"}
    assert "scratch" in mounted.paths and "scratch" not in mounted.read_only
    assert files(cfg) == {"mode": ("dev", 0o644)}

    objects.configmaps["app"] = cm("app", {"mode": "prod"})          # an update reaches the file
    vm.mount(pod)
    assert files(cfg) == {"mode": ("prod", 0o644)}

    del objects.configmaps["app"]                                   # deleted later: keep the files
    mounted = vm.mount(pod)
    assert mounted is not None and mounted.paths["cfg"] == cfg
    assert files(cfg) == {"mode": ("prod", 0o644)}
    assert len(rec.events) == 2


def test_volume_manager_hostpath_type_check_is_failed_mount(tmp_path):
    rec = Recorder()
    vm = VolumeManager(str(tmp_path), Objects(), rec)
    pod = make_pod(volumes=[{"name": "d", "hostPath": {"path": str(tmp_path / "missing"),
                                                        "type": "Directory"}}])
    assert vm.mount(pod) is None
    assert rec.events == [("FailedMount", f'MountVolume.SetUp failed for volume "d" : hostPath '
                                          f'type check failed: {tmp_path}/missing is not a directory')]


class Claims(Objects):
    """Objects that also answer for claims and volumes (ObjectCache.claim / .persistent_volume)."""

    def __init__(self):
        super().__init__()
        self.claims, self.volumes = {}, {}

    def claim(self, namespace, name):
        if name not in self.claims:
            raise ObjectError(f'persistentvolumeclaim "{name}" not found', not_found=True)
        return self.claims[name]

    def persistent_volume(self, name):
        if name not in self.volumes:
            raise ObjectError(f'persistentvolume "{name}" not found', not_found=True)
        return self.volumes[name]


def test_volume_manager_mounts_a_claims_volume_once_bound(tmp_path):
    objects, rec = Claims(), Recorder()
    vm = VolumeManager(str(tmp_path), objects, rec)
    pod = make_pod(volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "www"}},
                            {"name": "ro", "persistentVolumeClaim": {"claimName": "www", "readOnly": True}}])
    assert vm.mount(pod) is None
    ns = pod["metadata"]["namespace"]
    assert rec.events[0] == ("FailedMount", f'MountVolume.SetUp failed for volume "data" : error processing '
                                            f'PVC {ns}/www: persistentvolumeclaim "www" not found')
    objects.claims["www"] = {"metadata": {"name": "www"}, "spec": {}, "status": {"phase": "Pending"}}
    assert vm.mount(pod) is None
    assert rec.events[-1] == ("FailedMount", f'MountVolume.SetUp failed for volume "ro" : PVC {ns}/www has '
                                             "non-bound phase ('Pending') or empty pvc.Spec.VolumeName ('')")
    objects.claims["www"] = {"metadata": {"name": "www"}, "spec": {"volumeName": "pv1"},
                             "status": {"phase": "Bound"}}
    objects.volumes["pv1"] = {"metadata": {"name": "pv1"},
                              "spec": {"hostPath": {"path": str(tmp_path / "lp" / "pv1"), "type": "DirectoryOrCreate"}}}
    mounted = vm.mount(pod)
    assert mounted.paths == {"data": str(tmp_path / "lp" / "pv1"), "ro": str(tmp_path / "lp" / "pv1")}
    assert mounted.read_only == {"ro"} and (tmp_path / "lp" / "pv1").is_dir()
    objects.volumes["pv1"]["spec"] = {"local": {"path": str(tmp_path / "nowhere")}}
    assert vm.mount(pod) is None and "does not exist" in rec.events[-1][1]
