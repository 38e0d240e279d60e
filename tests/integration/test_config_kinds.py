"""ConfigMaps, Secrets and ServiceAccounts, driven by the real kubectl and the official Python client
against a real apiserver on a real etcd."""
from __future__ import annotations

import base64
import json
import threading
import time

import pytest


def test_kubectl_create_generators_send_protobuf_and_get_shows_them(kubectl, namespace, tmp_path):
    out = kubectl("create", "configmap", "game", "--from-literal=lives=3", "--from-literal=name=pac",
                  "-n", namespace, "-v=8")
    assert "configmap/game created" in out.stdout
    assert "Content-Type: application/vnd.kubernetes.protobuf" in out.stderr   # the decoder is tested
    (tmp_path / "ui.properties").write_text("color=blue\n")
    kubectl("create", "configmap", "ui", f"--from-file={tmp_path / 'ui.properties'}", "-n", namespace)
    kubectl("create", "secret", "generic", "db", "--from-literal=password=s3cr3t!", "-n", namespace)
    kubectl("create", "secret", "docker-registry", "reg", "--docker-username=u", "--docker-password=p",
            "--docker-server=registry.local", "-n", namespace)
    kubectl("create", "serviceaccount", "robot", "-n", namespace)

    table = kubectl("get", "cm,secret,sa", "-n", namespace).stdout
    assert "configmap/game" in table and "secret/db" in table and "serviceaccount/robot" in table
    secrets = kubectl("get", "secrets", "-n", namespace).stdout.splitlines()
    assert secrets[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert secrets[1].split()[:3] == ["db", "Opaque", "1"]
    assert secrets[2].split()[:3] == ["reg", "kubernetes.io/dockerconfigjson", "1"]
    cms = kubectl("get", "configmaps", "-n", namespace).stdout.splitlines()
    assert cms[0].split() == ["NAME", "DATA", "AGE"] and cms[1].split()[:2] == ["game", "2"]

    game = json.loads(kubectl("get", "cm", "game", "-n", namespace, "-o", "json").stdout)
    assert game["data"] == {"lives": "3", "name": "pac"}
    assert "generation" not in game["metadata"]        # no spec, no generation (as in Kubernetes)
    ui = json.loads(kubectl("get", "cm", "ui", "-n", namespace, "-o", "json").stdout)
    assert ui["data"] == {"ui.properties": "color=blue\n"}
    db = json.loads(kubectl("get", "secret", "db", "-n", namespace, "-o", "json").stdout)
    assert db["type"] == "Opaque" and base64.b64decode(db["data"]["password"]) == b"s3cr3t!"
    reg = json.loads(kubectl("get", "secret", "reg", "-n", namespace, "-o", "json").stdout)
    auths = json.loads(base64.b64decode(reg["data"][".dockerconfigjson"]))["auths"]
    assert auths["registry.local"]["username"] == "u"


def test_secret_string_data_is_merged_into_data_and_never_returned(kubectl, namespace):
    manifest = f"""
apiVersion: v1
kind: Secret
metadata: {{name: mixed, namespace: {namespace}}}
type: kubernetes.io/basic-auth
data: {{username: {base64.b64encode(b"admin").decode()}}}
stringData: {{password: t0p-Secret, username: root}}
"""
    kubectl("apply", "-f", "-", input=manifest)
    s = json.loads(kubectl("get", "secret", "mixed", "-n", namespace, "-o", "json").stdout)
    assert "stringData" not in s
    assert {k: base64.b64decode(v).decode() for k, v in s["data"].items()} == \
        {"username": "root", "password": "t0p-Secret"}   # stringData wins over data


def test_bad_config_objects_get_kubernetes_errors_and_nothing_is_written(kubectl, namespace):
    bad = kubectl("apply", "-n", namespace, "-f", "-", check=False, input="""
apiVersion: v1
kind: Secret
metadata: {name: bad}
data: {password: "not base64!!"}
""")
    assert bad.returncode != 0
    assert 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3' \
        in bad.stderr
    key = kubectl("apply", "-n", namespace, "-f", "-", check=False, input="""
apiVersion: v1
kind: ConfigMap
metadata: {name: badkey}
data: {"a/b": "x"}
""")
    assert key.returncode != 0 and 'The ConfigMap "badkey" is invalid: data: Invalid value: "a/b"' in key.stderr
    tls = kubectl("apply", "-n", namespace, "-f", "-", check=False, input="""
apiVersion: v1
kind: Secret
metadata: {name: notls}
type: kubernetes.io/tls
data: {tls.crt: "eA=="}
""")
    assert tls.returncode != 0 and "data[tls.key]: Required value" in tls.stderr
    left = kubectl("get", "cm,secrets", "-n", namespace, "-o", "name").stdout.split()
    assert left == []


def test_immutable_config_map_keeps_its_data(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input="""
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen}
immutable: true
data: {a: "1"}
""")
    out = kubectl("patch", "cm", "frozen", "-n", namespace, "-p", '{"data":{"a":"2"}}', check=False)
    assert out.returncode != 0 and "field is immutable when `immutable` is set" in out.stderr
    kubectl("label", "cm", "frozen", "-n", namespace, "team=a")        # metadata may still change
    cm = json.loads(kubectl("get", "cm", "frozen", "-n", namespace, "-o", "json").stdout)
    assert cm["data"] == {"a": "1"} and cm["metadata"]["labels"] == {"team": "a"}


def test_official_python_client_crud_and_watch(cluster, namespace):
    from kubernetes import client, config, watch
    config.load_kube_config(cluster.kubeconfig)
    v1 = client.CoreV1Api()
    cm = v1.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings"), data={"mode": "fast"}))
    assert cm.data == {"mode": "fast"}
    secret = v1.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="token"), string_data={"token": "abc"}))
    assert secret.type == "Opaque" and base64.b64decode(secret.data["token"]) == b"abc"
    sa = v1.create_namespaced_service_account(namespace, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="builder"), automount_service_account_token=False))
    assert sa.automount_service_account_token is False
    assert [c.metadata.name for c in v1.list_namespaced_config_map(namespace).items] == ["settings"]

    def later():
        time.sleep(0.5)
        v1.patch_namespaced_config_map("settings", namespace, {"data": {"mode": "slow"}})
        v1.delete_namespaced_config_map("settings", namespace)
    threading.Thread(target=later).start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, namespace, resource_version=cm.metadata.resource_version,
                       timeout_seconds=10):
        seen.append((ev["type"], ev["object"].data))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("MODIFIED", {"mode": "slow"}), ("DELETED", {"mode": "slow"})]
    v1.delete_namespaced_secret("token", namespace)
    v1.delete_namespaced_service_account("builder", namespace)
    with pytest.raises(client.ApiException) as err:
        v1.read_namespaced_secret("token", namespace)
    assert err.value.status == 404
