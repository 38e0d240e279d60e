"""ConfigMaps, Secrets and the downward API reaching real containers (real kubelet, Docker, kubectl).

What a pod sees is read back from ``kubectl logs``: the pods print their
environment and ``cat``/``stat`` the files of their volumes.
"""
import json
import os
import re

import pytest

from polling import wait_for  # noqa: E402  (tests/polling.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def node(start_kubelet):
    return start_kubelet("config")


def pod_status(api, ns, name) -> dict:
    return api.get("pods", name, ns).get("status") or {}


def waiting(api, ns, name) -> dict:
    for c in pod_status(api, ns, name).get("containerStatuses") or []:
        return (c.get("state") or {}).get("waiting") or {}
    return {}


def logs(kubectl, ns, name) -> str:
    return kubectl("logs", name, "-n", ns, check=False).stdout


def apply(kubectl, ns, *objects):
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                             "items": list(objects)}))


def busybox_pod(name, node, script, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "busybox:1.35",
                                     "command": ["sh", "-c", script], **spec.pop("container", {})}],
                     **spec}}


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# ---------------------------------------------------------------------- env and files
def test_configmap_and_secret_as_env_and_files_and_updates(node, kubectl, api_client, namespace):
    with open(os.path.join(ROOT, "examples", "configmap-pod.yaml")) as f:
        manifest = f.read().replace("nodeName: node-1", f"nodeName: {node.node_name}")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    out = wait_for(lambda: "lives=" in logs(kubectl, namespace, "config-demo")
                   and logs(kubectl, namespace, "config-demo"), what="config-demo printing")
    assert "env: GAME_lives=3 LIVES=3 PASSWORD=s3cr3t\n" in out
    assert "file: /etc/game/lives 640\n" in out                       # defaultMode
    assert "file: /etc/game/conf/ui.properties 400\n" in out          # the item's mode
    assert "color.good=purple\ncolor.bad=yellow\n" in out
    assert "the volume is read-only\n" in out
    assert "lives=3 subpath=3\n" in out

    # An update reaches the mounted file (the periodic sync), never the subPath copy.
    kubectl("patch", "configmap", "game-config", "-n", namespace, "-p", '{"data":{"lives":"9"}}')
    wait_for(lambda: "lives=9 subpath=3\n" in logs(kubectl, namespace, "config-demo"),
             timeout=60, what="the new value in the mounted file")
    assert "Traceback" not in node.log()


def test_optional_refs_may_be_missing(node, kubectl, api_client, namespace):
    pod = busybox_pod(
        "optional", node.node_name,
        'echo "A=${A-unset} B=${B-unset}"; ls /opt/cfg | wc -l; sleep 3600',
        container={
            "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {
                "name": "absent", "key": "a", "optional": True}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {
                        "name": "absent", "key": "b", "optional": True}}}],
            "envFrom": [{"configMapRef": {"name": "absent", "optional": True}}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/opt/cfg"}]},
        volumes=[{"name": "cfg", "configMap": {"name": "absent", "optional": True}}])
    apply(kubectl, namespace, pod)
    wait_for(lambda: "A=unset B=unset\n0\n" == logs(kubectl, namespace, "optional"),
             what="an optional ConfigMap that does not exist")


# ---------------------------------------------------------------------- missing objects
def test_missing_configmap_waits_with_events_then_starts(node, kubectl, api_client, namespace):
    env_pod = busybox_pod("env-later", node.node_name, 'echo "got $V"; sleep 3600', container={
        "env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "v"}}}]})
    vol_pod = busybox_pod("vol-later", node.node_name, 'echo "file $(cat /cfg/v)"; sleep 3600',
                          container={"volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]},
                          volumes=[{"name": "cfg", "configMap": {"name": "later"}}])
    apply(kubectl, namespace, env_pod, vol_pod)

    # env: the container waits with CreateContainerConfigError and a Failed event
    wait_for(lambda: waiting(api_client, namespace, "env-later").get("reason")
             == "CreateContainerConfigError", what="CreateContainerConfigError")
    assert waiting(api_client, namespace, "env-later")["message"] == 'configmap "later" not found'
    table = kubectl("get", "pod", "env-later", "-n", namespace).stdout
    assert re.search(r"env-later\s+0/1\s+CreateContainerConfigError", table), table
    failed = wait_for(lambda: kubectl("get", "events", "-n", namespace, "--field-selector",
                                      "involvedObject.name=env-later,reason=Failed").stdout,
                      what="the Failed event")
    assert 'Error: configmap "later" not found' in failed and "Warning" in failed

    # volume: the pod stays ContainerCreating with a FailedMount event
    mount = wait_for(lambda: kubectl("get", "events", "-n", namespace, "--field-selector",
                                     "involvedObject.name=vol-later,reason=FailedMount").stdout,
                     what="the FailedMount event")
    assert 'MountVolume.SetUp failed for volume "cfg" : configmap "later" not found' in mount
    assert waiting(api_client, namespace, "vol-later").get("reason") == "ContainerCreating"
    assert pod_status(api_client, namespace, "vol-later")["phase"] == "Pending"
    assert "podIP" not in pod_status(api_client, namespace, "vol-later")   # no sandbox yet

    # the ConfigMap appears: both start by themselves
    apply(kubectl, namespace, configmap("later", v="here"))
    wait_for(lambda: logs(kubectl, namespace, "env-later") == "got here\n", what="env-later runs")
    wait_for(lambda: logs(kubectl, namespace, "vol-later") == "file here\n", what="vol-later runs")
    for name in ("env-later", "vol-later"):
        assert pod_status(api_client, namespace, name)["phase"] == "Running"


# ---------------------------------------------------------------------- downward API, projected
def test_downward_api_and_projected_volumes(node, kubectl, api_client, namespace):
    apply(kubectl, namespace, configmap("app", mode="dev"),
          {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
           "stringData": {"user": "admin"}})
    pod = busybox_pod(
        "downward", node.node_name,
        "cd /etc/podinfo; for f in name namespace uid cpu_limit mem_limit; do "
        'echo "$f=$(cat $f)"; done; echo "--labels"; cat labels; echo; '
        "cd /etc/all; for f in config/mode db/user pod token; do "
        'echo "$f=$(cat $f) $(stat -Lc %a $f)"; done; '
        'while true; do echo "tier=$(cat /etc/podinfo/tier)"; sleep 1; done',
        container={"resources": {"limits": {"cpu": "250m", "memory": "32Mi"}},
                   "volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"},
                                    {"name": "all", "mountPath": "/etc/all"}]},
        volumes=[
            {"name": "podinfo", "downwardAPI": {"items": [
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
                {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}},
                {"path": "cpu_limit", "resourceFieldRef": {
                    "containerName": "main", "resource": "limits.cpu", "divisor": "1m"}},
                {"path": "mem_limit", "resourceFieldRef": {
                    "containerName": "main", "resource": "limits.memory", "divisor": "1Mi"}}]}},
            {"name": "all", "projected": {"defaultMode": 0o440, "sources": [
                {"configMap": {"name": "app", "items": [{"key": "mode", "path": "config/mode"}]}},
                {"secret": {"name": "db", "items": [{"key": "user", "path": "db/user",
                                                     "mode": 0o400}]}},
                {"downwardAPI": {"items": [{"path": "pod",
                                            "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}}])
    pod["metadata"]["labels"] = {"tier": "web", "app": "shop"}
    apply(kubectl, namespace, pod)
    out = wait_for(lambda: "tier=" in logs(kubectl, namespace, "downward")
                   and logs(kubectl, namespace, "downward"), what="downward printing")
    uid = api_client.get("pods", "downward", namespace)["metadata"]["uid"]
    assert out.startswith(f"name=downward\nnamespace={namespace}\nuid={uid}\ncpu_limit=250\n"
                          f"mem_limit=32\n--labels\napp=\"shop\"\ntier=\"web\"\n"), out
    assert "config/mode=dev 440\ndb/user=admin 400\npod=downward 440\n" in out
    assert re.search(r"\ntoken=\S* 440\n", out), out        # empty until the TokenRequest API
    # labels are updated in the running pod
    kubectl("label", "pod", "downward", "-n", namespace, "tier=db", "--overwrite")
    wait_for(lambda: "tier=db\n" in logs(kubectl, namespace, "downward"), timeout=60,
             what="the new label in the downwardAPI file")


# ---------------------------------------------------------------------- the kubelet's cache
def test_object_cache_reads_through_the_api(api_client, namespace):
    """A fetched object is kept for the TTL; a miss is never cached; messages as upstream."""
    from minikube_py.kubelet.objectcache import ObjectCache, ObjectError
    clock = [0.0]
    cache = ObjectCache(api_client, ttl=5.0, clock=lambda: clock[0])
    with pytest.raises(ObjectError) as e:
        cache.configmap(namespace, "cfg")
    assert e.value.not_found and e.value.message == 'configmap "cfg" not found'
    api_client.create("configmaps", configmap("cfg", k="1"), namespace)
    assert cache.configmap(namespace, "cfg")["data"] == {"k": "1"}      # the miss was not kept
    api_client.patch("configmaps", "cfg", {"data": {"k": "2"}}, namespace)
    assert cache.configmap(namespace, "cfg")["data"] == {"k": "1"}      # within the TTL
    clock[0] = 6.0
    assert cache.configmap(namespace, "cfg")["data"] == {"k": "2"}
    with pytest.raises(ObjectError, match='secret "db" not found'):
        cache.secret(namespace, "db")
