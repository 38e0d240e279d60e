"""The StatefulSet controller against a real apiserver and etcd.

No scheduler or kubelet runs: a FakeKubelet reports pods Running and Ready -- only those
the test lets it (`ready`), so a test decides when web-0 is Ready and can see that web-1
waits for it. The garbage collector runs too (claims whose owner goes are deleted by it,
as persistentVolumeClaimRetentionPolicy asks), and the Endpoints controller, whose
addresses carry each pod's hostname for the DNS names web-0.nginx.<ns>.svc.cluster.local.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fakekubelet import FakeKubelet
from polling import wait_for
from minikube_py.client import errors


def mkctl(cluster, *args):
    """``mkctl --kubeconfig <this module's cluster> ARGS`` (our kubectl-like CLI)."""
    proc = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", cluster.kubeconfig, *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["statefulset", "garbagecollector", "endpoints", "pvc-protection"])


@pytest.fixture
def ready(api_client, namespace):
    """The names of the pods the fake kubelet may report Ready (all: '*')."""
    allowed = set()
    with FakeKubelet(api_client, namespace, only=lambda p: "*" in allowed or p["metadata"]["name"] in allowed):
        yield allowed


def statefulset(name="web", replicas=2, claims=True, **spec):
    obj = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
           "spec": {"selector": {"matchLabels": {"app": "nginx"}}, "serviceName": "nginx", "replicas": replicas,
                    "template": {"metadata": {"labels": {"app": "nginx"}},
                                 "spec": {"containers": [{"name": "nginx", "image": "nginx:1.0",
                                                          "ports": [{"containerPort": 80, "name": "web"}],
                                                          "volumeMounts": [{"name": "www",
                                                                            "mountPath": "/usr/share/nginx/html"}]}]}},
                    **spec}}
    if claims:
        obj["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    else:
        del obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    return obj


def apply(kubectl, namespace, obj):
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def pods(client, namespace, live=True):
    items = client.list("pods", namespace=namespace, label_selector="app=nginx")["items"]
    return {p["metadata"]["name"]: p for p in items if not (live and p["metadata"].get("deletionTimestamp"))}


def sts(client, namespace, name="web"):
    return client.get("statefulsets", name, namespace=namespace)


def claims(client, namespace):
    return {c["metadata"]["name"]: c for c in client.list("persistentvolumeclaims", namespace=namespace)["items"]}


def observed(client, namespace, replicas, name="web"):
    """Wait until the status has seen `replicas` pods of the set's current generation."""
    def check():
        s = sts(client, namespace, name)
        st = s.get("status") or {}
        return st.get("observedGeneration") == s["metadata"]["generation"] and st.get("replicas") == replicas and s
    return wait_for(check, what=f"status.replicas {replicas}")


def rolled_out(client, namespace, replicas, name="web"):
    def check():
        s = sts(client, namespace, name)
        st = s.get("status") or {}
        return (st.get("observedGeneration") == s["metadata"]["generation"] and st.get("readyReplicas") == replicas
                and st.get("updatedReplicas") == replicas and st.get("currentRevision") == st.get("updateRevision")
                and len(pods(client, namespace)) == replicas and s)
    return wait_for(check, what=f"{replicas} ready pods at the update revision")


def revision(pod):
    return pod["metadata"]["labels"]["controller-revision-hash"]


def test_ordered_creation_identity_claims_and_dns_hostnames(cluster, controllers, api_client, kubectl, namespace,
                                                            ready):
    kubectl("create", "service", "clusterip", "nginx", "--clusterip=None", "--tcp=80:80", "-n", namespace)
    apply(kubectl, namespace, statefulset(replicas=3))
    observed(api_client, namespace, 1)
    assert set(pods(api_client, namespace)) == {"web-0"}          # web-1 waits for web-0 to be Ready
    web0 = pods(api_client, namespace)["web-0"]
    assert web0["spec"]["hostname"] == "web-0" and web0["spec"]["subdomain"] == "nginx"
    labels = web0["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-0" and labels["apps.kubernetes.io/pod-index"] == "0"
    assert revision(web0) == sts(api_client, namespace)["status"]["updateRevision"]
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}} in web0["spec"]["volumes"]
    claim = claims(api_client, namespace)["www-web-0"]
    assert claim["metadata"]["labels"] == {"app": "nginx"} and claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert not claim["metadata"].get("ownerReferences")                 # Retain: nobody owns it
    ready.add("web-0")
    wait_for(lambda: "web-1" in pods(api_client, namespace), what="web-1 after web-0 is Ready")
    assert "web-2" not in pods(api_client, namespace)
    ready.add("*")
    st = rolled_out(api_client, namespace, 3)["status"]
    assert st["availableReplicas"] == 3 and st["currentReplicas"] == 3 and st["collisionCount"] == 0
    assert set(claims(api_client, namespace)) == {"www-web-0", "www-web-1", "www-web-2"}
    row = kubectl("get", "sts", "-n", namespace).stdout.splitlines()
    assert row[0].split() == ["NAME", "READY", "AGE"] and row[1].split()[:2] == ["web", "3/3"]
    text = mkctl(cluster, "describe", "statefulset", "web", "-n", namespace)
    for line in ("Replicas:", "3 desired | 3 total", "Update Strategy:", "Partition:", "Volume Claims:",
                 "www", "Capacity:", "1Gi", "Access Modes:", "[ReadWriteOnce]", "3 Running / 0 Waiting"):
        assert line in text, text
    # the headless Service's endpoints name each pod: web-0.nginx.<ns>.svc.cluster.local
    endpoints = wait_for(lambda: (e := api_client.get("endpoints", "nginx", namespace=namespace)).get("subsets")
                         and len(e["subsets"][0].get("addresses") or []) == 3 and e, what="3 endpoints")
    assert {a["hostname"] for a in endpoints["subsets"][0]["addresses"]} == {"web-0", "web-1", "web-2"}
    # scale down: the highest ordinal goes first, one at a time; the claims stay (Retain)
    kubectl("scale", "sts", "web", "--replicas=1", "-n", namespace)

    def prefix():
        names = set(pods(api_client, namespace))
        assert names in ({"web-0", "web-1", "web-2"}, {"web-0", "web-1"}, {"web-0"}), names
        return names == {"web-0"}
    wait_for(prefix, what="scaled down to web-0")
    assert set(claims(api_client, namespace)) == {"www-web-0", "www-web-1", "www-web-2"}
    # scaling up again reuses the claims; a failed pod comes back under its own name
    kubectl("scale", "sts", "web", "--replicas=2", "-n", namespace)
    rolled_out(api_client, namespace, 2)
    web1 = pods(api_client, namespace)["web-1"]
    api_client.patch("pods", "web-1", {"status": {"phase": "Failed"}}, namespace=namespace, subresource="status")
    wait_for(lambda: (p := pods(api_client, namespace).get("web-1")) and p["metadata"]["uid"] != web1["metadata"]["uid"],
             what="web-1 made again")
    events = kubectl("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=web").stdout
    assert "create Pod web-0 in StatefulSet web successful" in events and "delete Pod web-2" in events


def test_parallel_creates_all_pods_at_once(controllers, api_client, kubectl, namespace, ready):
    apply(kubectl, namespace, statefulset(replicas=3, claims=False, podManagementPolicy="Parallel"))
    observed(api_client, namespace, 3)                  # none Ready, all three there
    assert set(pods(api_client, namespace)) == {"web-0", "web-1", "web-2"}
    kubectl("scale", "sts", "web", "--replicas=0", "-n", namespace)
    wait_for(lambda: not pods(api_client, namespace, live=False), what="all gone without waiting")


def test_rolling_update_with_partition_highest_ordinal_first_then_undo(controllers, api_client, kubectl,
                                                                      namespace, ready):
    ready.add("*")
    apply(kubectl, namespace, statefulset(replicas=3, claims=False))
    first = rolled_out(api_client, namespace, 3)["status"]["updateRevision"]
    kubectl("patch", "sts", "web", "-n", namespace, "-p",
            '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}')
    kubectl("set", "image", "sts/web", "nginx=nginx:2.0", "-n", namespace)

    def partitioned():
        s = sts(api_client, namespace)
        st = s["status"]
        p = pods(api_client, namespace)
        return (st.get("observedGeneration") == s["metadata"]["generation"] and st.get("updatedReplicas") == 1
                and st.get("readyReplicas") == 3 and len(p) == 3 and st)
    st = wait_for(partitioned, what="web-2 updated, web-0 and web-1 kept")
    assert st["currentRevision"] == first != st["updateRevision"] and st["currentReplicas"] == 2
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods(api_client, namespace).items()}
    assert images == {"web-0": "nginx:1.0", "web-1": "nginx:1.0", "web-2": "nginx:2.0"}
    out = kubectl("rollout", "status", "sts/web", "-n", namespace, "--timeout=30s").stdout
    assert "partitioned roll out complete: 1 new pods have been updated" in out
    kubectl("patch", "sts", "web", "-n", namespace, "-p",
            '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')

    def ordered():                                   # web-0 is never newer than web-1
        p = pods(api_client, namespace)
        img = {n: x["spec"]["containers"][0]["image"] for n, x in p.items()}
        assert not (img.get("web-0") == "nginx:2.0" and img.get("web-1") == "nginx:1.0"), img
        return set(img.values()) == {"nginx:2.0"} and len(img) == 3
    wait_for(ordered, what="all pods updated")
    st = rolled_out(api_client, namespace, 3)["status"]
    assert st["currentRevision"] == st["updateRevision"] != first
    out = kubectl("rollout", "status", "sts/web", "-n", namespace, "--timeout=30s").stdout
    assert "partitioned roll out complete: 3 new pods have been updated" in out   # kubectl: partition is set (0)
    history = kubectl("rollout", "history", "sts/web", "-n", namespace).stdout
    assert "REVISION" in history and "nginx:1.0" in kubectl("rollout", "history", "sts/web", "-n", namespace,
                                                            "--revision=1").stdout
    kubectl("rollout", "undo", "sts/web", "-n", namespace)
    wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in pods(api_client, namespace).values()} == {"nginx:1.0"},
             what="rolled back")
    st = rolled_out(api_client, namespace, 3)["status"]
    assert st["updateRevision"] == first                 # the old revision, renumbered
    numbers = {r["metadata"]["name"]: r["revision"] for r in
               api_client.list("controllerrevisions", namespace=namespace)["items"]}
    assert numbers[first] == 3
    kubectl("rollout", "restart", "sts/web", "-n", namespace)
    wait_for(lambda: all("kubectl.kubernetes.io/restartedAt" in (p["metadata"].get("annotations") or {})
                         for p in pods(api_client, namespace).values()) and rolled_out(api_client, namespace, 3),
             what="every pod restarted")


def test_on_delete_changes_only_pods_someone_deletes(controllers, api_client, kubectl, namespace, ready):
    ready.add("*")
    apply(kubectl, namespace, statefulset(claims=False, updateStrategy={"type": "OnDelete"}))
    rolled_out(api_client, namespace, 2)
    kubectl("set", "image", "sts/web", "nginx=nginx:2.0", "-n", namespace)
    s = wait_for(lambda: (x := sts(api_client, namespace))["status"].get("observedGeneration") == 2 and x, what="seen")
    assert s["status"]["updatedReplicas"] == 0
    api_client.delete("pods", "web-1", namespace=namespace)
    wait_for(lambda: (p := pods(api_client, namespace).get("web-1"))
             and p["spec"]["containers"][0]["image"] == "nginx:2.0", what="web-1 with the new template")
    assert pods(api_client, namespace)["web-0"]["spec"]["containers"][0]["image"] == "nginx:1.0"
    wait_for(lambda: sts(api_client, namespace)["status"].get("updatedReplicas") == 1, what="updatedReplicas 1")


def test_claim_retention_policy_delete(controllers, api_client, kubectl, namespace, ready):
    ready.add("*")
    apply(kubectl, namespace, statefulset(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                                                "whenScaled": "Delete"}))
    rolled_out(api_client, namespace, 2)
    owners = {n: [r["kind"] for r in c["metadata"].get("ownerReferences") or []]
              for n, c in claims(api_client, namespace).items()}
    assert owners == {"www-web-0": ["StatefulSet"], "www-web-1": ["StatefulSet"]}
    kubectl("scale", "sts", "web", "--replicas=1", "-n", namespace)
    wait_for(lambda: set(claims(api_client, namespace)) == {"www-web-0"}, what="web-1's claim deleted with it")
    kubectl("delete", "sts", "web", "-n", namespace)
    wait_for(lambda: not claims(api_client, namespace) and not pods(api_client, namespace, live=False),
             what="pods and claims gone with the set")


def test_retain_keeps_claims_when_the_set_goes(controllers, api_client, kubectl, namespace, ready):
    ready.add("*")
    apply(kubectl, namespace, statefulset(replicas=1))
    rolled_out(api_client, namespace, 1)
    kubectl("delete", "sts", "web", "-n", namespace)
    wait_for(lambda: not pods(api_client, namespace, live=False), what="pods gone")
    assert set(claims(api_client, namespace)) == {"www-web-0"}


def test_invalid_statefulsets_and_forbidden_updates(controllers, api_client, namespace):
    bad = statefulset(podManagementPolicy="Sometimes")
    with pytest.raises(errors.Invalid) as err:
        api_client.create("statefulsets", bad, namespace=namespace)
    assert err.value.details["causes"][0]["field"] == "spec.podManagementPolicy"
    bad = statefulset()
    del bad["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]
    with pytest.raises(errors.Invalid) as err:
        api_client.create("statefulsets", bad, namespace=namespace)
    assert "spec.volumeClaimTemplates[0].spec.resources[storage]" in err.value.message
    created = api_client.create("statefulsets", statefulset(replicas=0), namespace=namespace)
    spec = created["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady" and spec["revisionHistoryLimit"] == 10
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"
    del created["metadata"]["resourceVersion"]          # the controller writes status meanwhile
    created["spec"]["serviceName"] = "other"
    with pytest.raises(errors.Invalid) as err:
        api_client.update("statefulsets", created)
    assert "updates to statefulset spec for fields other than" in err.value.message
    created["spec"]["serviceName"] = "nginx"
    created["spec"]["replicas"] = 0
    created["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:3"
    api_client.update("statefulsets", created)
