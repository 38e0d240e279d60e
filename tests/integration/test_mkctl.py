"""mkctl against a real apiserver (and etcd): run as a subprocess, as a user would."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import yaml

from minikube_py.client.rest import Client
from minikube_py.storage.embedded import free_port


@pytest.fixture
def mkctl(cluster, tmp_path):
    """Run ``mkctl --kubeconfig <the test cluster's> ARGS``; returns the CompletedProcess."""
    def run(*args, input=None, check=True, kubeconfig=None):
        proc = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl",
                               "--kubeconfig", kubeconfig or cluster.kubeconfig, *args],
                              input=input, capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, HOME=str(tmp_path)))
        if check and proc.returncode != 0:
            raise AssertionError(f"mkctl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc
    return run


@pytest.fixture
def client(cluster):
    c = Client(kubeconfig=cluster.kubeconfig)
    yield c
    c.close()


def deployment(name="web", replicas=2, labels=None, image="nginx:1.25"):
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          labels: {json.dumps(labels or {"app": name, "tier": "frontend"})}
        spec:
          replicas: {replicas}
          selector:
            matchLabels: {{app: {name}}}
          template:
            metadata:
              labels: {{app: {name}}}
            spec:
              containers:
              - name: main
                image: {image}
                ports: [{{containerPort: 80}}]
                resources:
                  requests: {{cpu: 100m, memory: 64Mi}}
                  limits: {{cpu: 200m, memory: 128Mi}}
        """)


def pod(name, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def columns(line: str) -> list[str]:
    return line.split()


# ------------------------------------------------------------------ get
def test_get_prints_server_table_like_kubectl(mkctl, namespace):
    mkctl("apply", "-n", namespace, "-f", "-", input=deployment())
    mkctl("create", "-n", namespace, "-f", "-", input=json.dumps(pod("solo")))

    out = mkctl("get", "deployments", "-n", namespace).stdout.splitlines()
    assert columns(out[0]) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert columns(out[1])[:4] == ["web", "0/2", "0", "0"]
    # columns padded with 3 spaces after the widest cell (kubectl's tabwriter)
    assert out[0].startswith("NAME   READY")

    wide = mkctl("get", "deploy", "web", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert columns(wide[0])[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert columns(wide[1])[-3:] == ["main", "nginx:1.25", "app=web"]

    labels = mkctl("get", "po", "-n", namespace, "--show-labels").stdout.splitlines()
    assert columns(labels[0])[-1] == "LABELS" and columns(labels[1])[-1] == "app=solo"

    both = mkctl("get", "deploy,po", "-n", namespace).stdout
    assert "deployment.apps/web" in both and "pod/solo" in both
    assert "\n\nNAME" in both   # one table per type, a blank line between

    everywhere = mkctl("get", "pods", "-A").stdout.splitlines()
    assert columns(everywhere[0])[:2] == ["NAMESPACE", "NAME"]
    assert [namespace, "solo"] in [columns(line)[:2] for line in everywhere]

    selected = mkctl("get", "po", "-n", namespace, "-l", "app=nothing")
    assert selected.stdout == ""
    assert selected.stderr.strip() == f"No resources found in {namespace} namespace."
    by_field = mkctl("get", "po", "-n", namespace, "--field-selector", "metadata.name=solo").stdout
    assert "solo" in by_field


def test_get_yaml_json_and_name(mkctl, namespace):
    mkctl("apply", "-n", namespace, "-f", "-", input=deployment())
    obj = json.loads(mkctl("get", "deploy", "web", "-n", namespace, "-o", "json").stdout)
    assert obj["kind"] == "Deployment" and obj["apiVersion"] == "apps/v1"
    assert obj["spec"]["replicas"] == 2

    lst = yaml.safe_load(mkctl("get", "deploy", "-n", namespace, "-o", "yaml").stdout)
    assert lst["kind"] == "List" and lst["apiVersion"] == "v1"
    assert [i["metadata"]["name"] for i in lst["items"]] == ["web"]
    assert lst["items"][0]["kind"] == "Deployment"

    assert mkctl("get", "deploy", "-n", namespace, "-o", "name").stdout == "deployment.apps/web\n"


def test_types_are_resolved_by_discovery(mkctl, namespace):
    for name in ("ns", "namespace", "namespaces", "Namespace"):
        assert "default" in mkctl("get", name).stdout
    for name in ("deployments.apps", "deploy", "rs", "lease", "ev", "po"):
        assert mkctl("get", name, "-n", namespace).stderr == f"No resources found in {namespace} namespace.\n"
    bad = mkctl("get", "frobnicators", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == 'error: the server doesn\'t have a resource type "frobnicators"'
    resources = mkctl("api-resources").stdout
    assert re.search(r"deployments +deploy ", resources) and "coordination.k8s.io/v1" in resources


def test_not_found_is_one_line_and_exit_1(mkctl, namespace):
    proc = mkctl("get", "pod", "nosuch", "-n", namespace, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == 'Error from server (NotFound): pods "nosuch" not found'
    proc = mkctl("describe", "deploy", "nosuch", "-n", namespace, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == 'Error from server (NotFound): deployments.apps "nosuch" not found'


def test_connection_refused(mkctl, tmp_path):
    from minikube_py.client.kubeconfig import write_kubeconfig
    port = free_port()
    kc = write_kubeconfig(str(tmp_path / "kc"), f"http://127.0.0.1:{port}")
    proc = mkctl("get", "pods", kubeconfig=kc, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"The connection to the server 127.0.0.1:{port} was refused - "
                                   "did you specify the right host or port?")


# ------------------------------------------------------------------ apply / create / delete
def test_apply_created_unchanged_configured(mkctl, namespace, client, tmp_path):
    manifest = tmp_path / "web.yaml"
    manifest.write_text(deployment(replicas=2) + "---\n" + yaml.safe_dump(pod("solo")))
    assert mkctl("apply", "-n", namespace, "-f", str(manifest)).stdout.splitlines() == \
        ["deployment.apps/web created", "pod/solo created"]
    live = client.get("deployments", "web", namespace)
    recorded = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert recorded["spec"]["replicas"] == 2 and recorded["metadata"]["namespace"] == namespace

    assert mkctl("apply", "-n", namespace, "-f", str(manifest)).stdout.splitlines() == \
        ["deployment.apps/web unchanged", "pod/solo unchanged"]

    # another tool adds a label: apply must leave it alone (it was never in the manifest)
    client.patch("deployments", "web", {"metadata": {"labels": {"owner": "ops"}}}, namespace)
    # change replicas and the image, drop the "tier" label from the manifest
    manifest.write_text(deployment(replicas=3, labels={"app": "web"}, image="nginx:1.27"))
    assert mkctl("apply", "-n", namespace, "-f", str(manifest)).stdout == "deployment.apps/web configured\n"
    live = client.get("deployments", "web", namespace)
    assert live["spec"]["replicas"] == 3
    assert live["metadata"]["labels"] == {"app": "web", "owner": "ops"}
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}

    # a directory works too, and so does stdin
    assert "unchanged" in mkctl("apply", "-n", namespace, "-f", str(tmp_path)).stdout
    assert "unchanged" in mkctl("apply", "-n", namespace, "-f", "-", input=manifest.read_text()).stdout


def test_apply_rejects_conflicting_namespace(mkctl, namespace):
    doc = json.dumps({**pod("x"), "metadata": {"name": "x", "namespace": "elsewhere"}})
    proc = mkctl("apply", "-n", namespace, "-f", "-", input=doc, check=False)
    assert proc.returncode == 1
    assert 'does not match the namespace' in proc.stderr


def test_create_then_already_exists(mkctl, namespace):
    doc = json.dumps(pod("once"))
    assert mkctl("create", "-n", namespace, "-f", "-", input=doc).stdout == "pod/once created\n"
    proc = mkctl("create", "-n", namespace, "-f", "-", input=doc, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == \
        'Error from server (AlreadyExists): error when creating "STDIN": pods "once" already exists'


def test_delete_by_name_selector_and_file(mkctl, namespace, client, tmp_path):
    for name in ("a", "b", "c"):
        client.create("pods", pod(name), namespace)
    client.patch("pods", "b", {"metadata": {"labels": {"group": "x"}}}, namespace)
    client.patch("pods", "c", {"metadata": {"labels": {"group": "x"}}}, namespace)

    assert mkctl("delete", "pod", "a", "-n", namespace).stdout == 'pod "a" deleted\n'
    assert mkctl("delete", "po", "-l", "group=x", "-n", namespace, "--wait").stdout.splitlines() == \
        ['pod "b" deleted', 'pod "c" deleted']
    assert client.list("pods", namespace)["items"] == []

    missing = mkctl("delete", "pod", "a", "-n", namespace, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "a" not found'

    manifest = tmp_path / "d.yaml"
    manifest.write_text(deployment())
    mkctl("apply", "-n", namespace, "-f", str(manifest))
    assert mkctl("delete", "-n", namespace, "-f", str(manifest), "--cascade=foreground").stdout == \
        'deployment.apps "web" deleted\n'
    # no garbage collector runs here: the foreground finalizer keeps the object, marked for deletion
    live = client.get("deployments", "web", namespace)
    assert live["metadata"].get("deletionTimestamp")
    assert "foregroundDeletion" in live["metadata"]["finalizers"]


# ------------------------------------------------------------------ label / annotate / scale
def test_label_and_annotate(mkctl, namespace, client):
    client.create("pods", pod("p"), namespace)
    assert mkctl("label", "pod", "p", "env=dev", "-n", namespace).stdout == "pod/p labeled\n"
    refused = mkctl("label", "pod", "p", "env=prod", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: 'env' already has a value (dev), and --overwrite is false"
    mkctl("label", "pod/p", "env=prod", "--overwrite", "-n", namespace)
    assert client.get("pods", "p", namespace)["metadata"]["labels"] == {"app": "p", "env": "prod"}
    assert mkctl("label", "pod", "p", "env-", "-n", namespace).stdout == "pod/p unlabeled\n"
    assert client.get("pods", "p", namespace)["metadata"]["labels"] == {"app": "p"}

    assert mkctl("annotate", "pod", "p", "note=hello world", "-n", namespace).stdout == "pod/p annotated\n"
    assert mkctl("annotate", "pod", "p", "note=bye", "-n", namespace, check=False).returncode == 1
    mkctl("annotate", "pod", "p", "note=bye", "--overwrite", "-n", namespace)
    assert client.get("pods", "p", namespace)["metadata"]["annotations"] == {"note": "bye"}
    mkctl("annotate", "pod", "p", "note-", "-n", namespace)
    assert not client.get("pods", "p", namespace)["metadata"].get("annotations")


def test_scale(mkctl, namespace, client):
    mkctl("apply", "-n", namespace, "-f", "-", input=deployment())
    assert mkctl("scale", "deploy/web", "--replicas", "5", "-n", namespace).stdout == \
        "deployment.apps/web scaled\n"
    assert client.get("deployments", "web", namespace)["spec"]["replicas"] == 5
    mkctl("scale", "deployment", "web", "--replicas=0", "-n", namespace)
    assert client.get("deployments", "web", namespace)["spec"]["replicas"] == 0
    assert mkctl("scale", "pod", "x", "--replicas=1", "-n", namespace, check=False).returncode == 1


# ------------------------------------------------------------------ describe
def test_describe_deployment_with_events(mkctl, namespace, client):
    mkctl("apply", "-n", namespace, "-f", "-", input=deployment(replicas=3))
    d = client.get("deployments", "web", namespace)
    client.create_event(d, "ScalingReplicaSet", "Scaled up replica set web-abc to 3",
                        component="deployment-controller")
    other = client.create("pods", pod("unrelated"), namespace)
    client.create_event(other, "Noise", "not about the deployment")

    out = mkctl("describe", "deployment", "web", "-n", namespace).stdout
    lines = out.splitlines()
    assert lines[0] == "Name:                   web"
    assert f"Namespace:              {namespace}" in lines
    assert "Replicas:               3 desired | 0 updated | 0 total | 0 available | 0 unavailable" in lines
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in lines
    assert "Selector:               app=web" in lines
    assert "Pod Template:" in lines and "   main:" in lines
    assert "    Image:      nginx:1.25" in lines
    assert "kubectl.kubernetes.io/last-applied-configuration" not in out   # kubectl hides it
    events = out[out.index("Events:"):].splitlines()
    assert columns(events[1]) == ["Type", "Reason", "Age", "From", "Message"]
    assert columns(events[3])[:2] == ["Normal", "ScalingReplicaSet"]
    assert "deployment-controller" in events[3] and "Noise" not in out


def test_describe_node_shows_gpus_and_allocated(mkctl, namespace, client):
    node_name = f"gpu-node-{namespace}"
    client.create("nodes", {"metadata": {"name": node_name}, "status": {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"},
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"}}})
    try:
        trainer = pod("trainer", nodeName=node_name)
        trainer["spec"]["containers"][0]["resources"] = {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}}
        client.create("pods", trainer, namespace)

        out = mkctl("describe", "node", node_name).stdout
        assert "  nvidia.com/gpu:  2" in out
        assert "Non-terminated Pods:          (1 in total)" in out
        row = next(line for line in out.splitlines() if "trainer" in line)
        assert columns(row)[:6] == [namespace, "trainer", "1", "(25%)", "2", "(50%)"]
        allocated = out[out.index("Allocated resources:"):]
        assert columns(next(l for l in allocated.splitlines() if l.strip().startswith("cpu"))) == \
            ["cpu", "1", "(25%)", "2", "(50%)"]
        assert columns(next(l for l in allocated.splitlines() if "nvidia.com/gpu" in l)) == \
            ["nvidia.com/gpu", "1", "1"]
    finally:
        client.delete("nodes", node_name)


def test_describe_generic_fallback(mkctl, client):
    client.create("leases", {"metadata": {"name": "holder-test", "namespace": "default"},
                             "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}})
    try:
        out = mkctl("describe", "lease", "holder-test", "-n", "default").stdout
        assert "API Version:  coordination.k8s.io/v1" in out
        assert "Spec:\n  Holder Identity:         me\n  Lease Duration Seconds:  15\n" in out
    finally:
        client.delete("leases", "holder-test", "default")


# ------------------------------------------------------------------ watch, logs, version
def test_get_watch_prints_a_row_per_event(cluster, namespace, client, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", cluster.kubeconfig,
                             "get", "pods", "-w", "-n", namespace],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, HOME=str(tmp_path)))
    lines: list[str] = []

    def read():
        for line in proc.stdout:
            lines.append(line)
    threading.Thread(target=read, daemon=True).start()
    try:
        time.sleep(1.5)                       # let it list and open the watch
        client.create("pods", pod("watched"), namespace)
        deadline = time.time() + 20
        while time.time() < deadline and not any(l.startswith("watched") for l in lines):
            time.sleep(0.1)
        client.patch("pods", "watched", {"metadata": {"labels": {"seen": "yes"}}}, namespace)
        while time.time() < deadline and sum(l.startswith("watched") for l in lines) < 2:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    assert columns(lines[0]) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], lines
    rows = [columns(l) for l in lines if l.startswith("watched")]
    assert len(rows) == 2 and rows[0][:3] == ["watched", "0/1", "Pending"], lines


def test_logs_shows_server_error(mkctl, namespace, client):
    client.create("pods", pod("quiet"), namespace)
    proc = mkctl("logs", "quiet", "-n", namespace, "--tail", "5", check=False)
    # no kubelet serves it: BadRequest (not scheduled) or ServiceUnavailable, shown as one line
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error from server (") and proc.stderr.count("\n") == 1


def test_version(mkctl):
    out = mkctl("version").stdout.splitlines()
    assert out[0].startswith("Client Version: v") and out[1].startswith("Server Version: v1.")


def test_cordon_drain_uncordon(mkctl, namespace, client):
    node = f"drain-{namespace}"
    client.create("nodes", {"metadata": {"name": node}})
    try:
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                 "uid": "00000000-0000-0000-0000-000000000001", "controller": True}
        for name, owners in (("owned", [owner]), ("bare", [])):
            client.create("pods", {"metadata": {"name": name, "ownerReferences": owners},
                                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
                          namespace=namespace)
            client.bind(namespace, name, node)

        assert mkctl("cordon", node).stdout.strip() == f"node/{node} cordoned"
        assert mkctl("cordon", f"node/{node}").stdout.strip() == f"node/{node} already cordoned"

        # A pod no controller owns would not come back: drain refuses it without --force.
        refused = mkctl("drain", node, "--grace-period=0", check=False)
        assert refused.returncode == 1
        assert f"cannot delete Pods that declare no controller (use --force to override): " \
               f"{namespace}/bare" in refused.stderr
        assert client.get("pods", "owned", namespace=namespace)

        out = mkctl("drain", node, "--grace-period=0", "--force", "--ignore-daemonsets").stdout
        assert f"node/{node} already cordoned" in out
        assert f"evicting pod {namespace}/owned" in out and f"evicting pod {namespace}/bare" in out
        assert out.strip().endswith(f"node/{node} drained")
        assert client.list("pods", namespace=namespace)["items"] == []
        assert client.get("nodes", node)["spec"]["unschedulable"] is True

        assert mkctl("uncordon", node).stdout.strip() == f"node/{node} uncordoned"
        assert not client.get("nodes", node)["spec"].get("unschedulable")
    finally:
        client.delete("nodes", node)
