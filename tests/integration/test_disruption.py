"""PodDisruptionBudgets against the real apiserver (real etcd), the real kubectl, and the
Deployment/ReplicaSet/disruption controllers; pods "run" on a fake kubelet (tests/fakekubelet.py).

What a user sees: the budget's status (`kubectl get pdb`), evictions refused with 429 when
they would break it, and `kubectl drain` stopping at a budget that allows no disruption.
"""
from __future__ import annotations

import json
import os

import pytest
import requests

from fakekubelet import FakeKubelet
from polling import wait_for

POD = {"spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]}}


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["replicaset", "deployment", "disruption"])


def deployment(name, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, **POD}}}


def pdb(name, app, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": app}}, **spec}}


def status(client, namespace, name):
    return client.get("poddisruptionbudgets", name, namespace=namespace).get("status") or {}


def ready_pods(client, namespace, app):
    return [p for p in client.list("pods", namespace=namespace, label_selector=f"app={app}")["items"]
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))]


def evict(cluster, namespace, name):
    return requests.post(f"{cluster.server}/api/v1/namespaces/{namespace}/pods/{name}/eviction",
                         json={"apiVersion": "policy/v1", "kind": "Eviction",
                               "metadata": {"name": name, "namespace": namespace}})


def test_the_budget_status_counts_healthy_pods_and_allowed_disruptions(controllers, api_client, kubectl, namespace):
    with FakeKubelet(api_client, namespace):
        api_client.create("deployments", deployment("web", 3), namespace=namespace)
        kubectl("create", "pdb", "web-pdb", "-n", namespace, "--selector=app=web", "--min-available=2")
        st = wait_for(lambda: (s := status(api_client, namespace, "web-pdb")).get("currentHealthy") == 3 and s,
                      what="3 healthy pods counted")
        assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (3, 2, 1)
        cond = {c["type"]: c for c in st["conditions"]}["DisruptionAllowed"]
        assert (cond["status"], cond["reason"]) == ("True", "SufficientPods")
        assert st["observedGeneration"] == 1
        header, row = kubectl("get", "pdb", "-n", namespace).stdout.splitlines()[:2]
        assert header.split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
        assert row.split()[:4] == ["web-pdb", "2", "N/A", "1"]


def test_max_unavailable_is_counted_against_the_deployments_scale(controllers, api_client, namespace):
    with FakeKubelet(api_client, namespace):
        api_client.create("deployments", deployment("api", 4), namespace=namespace)
        api_client.create("poddisruptionbudgets", pdb("api-pdb", "api", maxUnavailable="50%"), namespace=namespace)
        st = wait_for(lambda: (s := status(api_client, namespace, "api-pdb")).get("currentHealthy") == 4 and s,
                      what="4 healthy pods counted")
        assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (4, 2, 2)
        # minAvailable as a percentage is also taken of the scale, rounded up
        api_client.patch("poddisruptionbudgets", "api-pdb",
                         {"spec": {"maxUnavailable": None, "minAvailable": "60%"}}, namespace=namespace)
        st = wait_for(lambda: (s := status(api_client, namespace, "api-pdb")).get("observedGeneration") == 2 and s,
                      what="the new spec seen")
        assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (4, 3, 1)


def test_an_eviction_spends_the_budget_and_the_next_one_gets_429(controllers, api_client, cluster, namespace):
    with FakeKubelet(api_client, namespace):
        api_client.create("deployments", deployment("db", 3), namespace=namespace)
        api_client.create("poddisruptionbudgets", pdb("db-pdb", "db", minAvailable=2), namespace=namespace)
        wait_for(lambda: status(api_client, namespace, "db-pdb").get("disruptionsAllowed") == 1,
                 what="one disruption allowed")
        first, second = sorted(p["metadata"]["name"] for p in ready_pods(api_client, namespace, "db"))[:2]
        r = evict(cluster, namespace, first)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "Success"
        r = evict(cluster, namespace, second)
        assert r.status_code == 429, r.text
        body = r.json()
        assert body["reason"] == "TooManyRequests"
        assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
        assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
        assert "The disruption budget db-pdb needs 2 healthy pods" in body["details"]["causes"][0]["message"]
        assert api_client.get("pods", second, namespace=namespace)["metadata"].get("deletionTimestamp") is None
        # the ReplicaSet replaces the evicted pod; once it is Ready the budget allows one again
        wait_for(lambda: status(api_client, namespace, "db-pdb").get("disruptionsAllowed") == 1
                 and status(api_client, namespace, "db-pdb").get("currentHealthy") == 3,
                 what="the replacement counted healthy")
        assert evict(cluster, namespace, second).status_code == 201


def test_a_pod_no_budget_selects_is_simply_deleted_and_two_budgets_are_refused(controllers, api_client, cluster,
                                                                               namespace):
    with FakeKubelet(api_client, namespace):
        api_client.create("deployments", deployment("solo", 1), namespace=namespace)
        pod = wait_for(lambda: ready_pods(api_client, namespace, "solo"), what="a ready pod")[0]["metadata"]["name"]
        for name in ("a", "b"):
            api_client.create("poddisruptionbudgets", pdb(name, "solo", maxUnavailable=1), namespace=namespace)
        r = evict(cluster, namespace, pod)
        assert r.status_code == 500 and "more than one PodDisruptionBudget" in r.json()["message"]
        api_client.delete("poddisruptionbudgets", "b", namespace=namespace)
        api_client.delete("poddisruptionbudgets", "a", namespace=namespace)
        wait_for(lambda: evict(cluster, namespace, pod).status_code == 201, what="the eviction to go through")


def test_a_budget_with_both_bounds_is_invalid(api_client, kubectl, namespace):
    proc = kubectl("apply", "-n", namespace, "-f", "-", check=False,
                   input=json.dumps(pdb("both", "x", minAvailable=1, maxUnavailable=1)))
    assert proc.returncode != 0
    assert "minAvailable and maxUnavailable cannot be both set" in proc.stderr
    proc = kubectl("apply", "-n", namespace, "-f", "-", check=False,
                   input=json.dumps(pdb("big", "x", minAvailable="150%")))
    assert "spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%" in proc.stderr


def test_kubectl_drain_stops_at_a_budget_that_allows_no_disruption(controllers, api_client, kubectl, namespace):
    node = f"drain-{os.urandom(3).hex()}"
    kubelet = FakeKubelet(api_client, namespace, node=node).register()
    with kubelet:
        api_client.create("deployments", deployment("shop", 2), namespace=namespace)
        api_client.create("poddisruptionbudgets", pdb("shop-pdb", "shop", minAvailable=2), namespace=namespace)
        wait_for(lambda: (s := status(api_client, namespace, "shop-pdb")).get("currentHealthy") == 2
                 and s.get("disruptionsAllowed") == 0, what="a budget with nothing to spend")
        before = sorted(p["metadata"]["name"] for p in ready_pods(api_client, namespace, "shop"))
        proc = kubectl("drain", node, "--ignore-daemonsets", "--timeout=7s", check=False)
        assert proc.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in proc.stderr
        assert api_client.get("nodes", node)["spec"].get("unschedulable") is True      # cordoned first
        assert sorted(p["metadata"]["name"] for p in ready_pods(api_client, namespace, "shop")) == before
        # with room for one disruption, drain evicts one pod, waits for its replacement, then the other
        api_client.patch("poddisruptionbudgets", "shop-pdb", {"spec": {"minAvailable": 1}}, namespace=namespace)
        wait_for(lambda: status(api_client, namespace, "shop-pdb").get("observedGeneration") == 2,
                 what="the new spec seen")
        proc = kubectl("drain", node, "--ignore-daemonsets", "--timeout=60s", check=False)
        assert proc.returncode == 0, proc.stderr
        assert "evicted" in proc.stdout and f"node/{node} drained" in proc.stdout
        assert not set(before) & {p["metadata"]["name"] for p in api_client.list(
            "pods", namespace=namespace, label_selector="app=shop")["items"]}
        api_client.delete("nodes", node)
