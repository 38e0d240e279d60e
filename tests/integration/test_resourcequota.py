"""ResourceQuota and LimitRange enforcement against real apiservers on a real etcd, with
the resourcequota controller running: what a user sees is the 403 Kubernetes answers,
the pods that exist afterwards, and the quota's status (`kubectl describe quota`).
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from clusters import _stop
from polling import wait_for


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["resourcequota", "pvc-protection"])


@pytest.fixture(scope="module")
def second_apiserver(cluster):
    """Another apiserver on the same etcd, as in an HA control plane."""
    url = cluster.add_apiserver()
    yield url
    _stop(cluster.extra_apiservers.pop())


def pod(name, resources=None, **spec):
    c = {"name": "app", "image": "busybox", "command": ["sleep", "3600"]}
    if resources is not None:
        c["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [c], **spec}}


def post(server, namespace, resource, body):
    return requests.post(f"{server}/api/v1/namespaces/{namespace}/{resource}", json=body, timeout=60)


def make_quota(api_client, namespace, name, hard, **spec):
    api_client.create("resourcequotas", {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
                                         "spec": {"hard": hard, **spec}}, namespace=namespace)
    return wait_for(lambda: (q := api_client.get("resourcequotas", name, namespace=namespace))
                    .get("status", {}).get("hard") == hard and set(q["status"].get("used", {})) == set(hard) and q,
                    what=f"quota {name} counted")


def used(api_client, namespace, name):
    return api_client.get("resourcequotas", name, namespace=namespace).get("status", {}).get("used", {})


def create_concurrently(servers, namespace, count):
    def one(i):
        return post(servers[i % len(servers)], namespace, "pods", pod(f"p-{i}"))
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def check_exactly_ten(api_client, namespace, answers):
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 10 + [403] * 40, [r.text for r in answers if r.status_code not in (201, 403)]
    for r in answers:
        if r.status_code == 403:
            status = r.json()
            assert status["reason"] == "Forbidden"
            assert "exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10" in status["message"]
    assert len(api_client.list("pods", namespace=namespace)["items"]) == 10
    assert used(api_client, namespace, "pods") == {"pods": "10"}


def test_50_concurrent_creates_against_a_quota_of_10_pods(controllers, cluster, api_client, namespace):
    make_quota(api_client, namespace, "pods", {"pods": "10"})
    check_exactly_ten(api_client, namespace, create_concurrently([cluster.server], namespace, 50))


def test_no_overshoot_with_two_apiservers_on_one_etcd(controllers, cluster, second_apiserver, api_client, namespace):
    make_quota(api_client, namespace, "pods", {"pods": "10"})
    # the second apiserver's lister must know the quota before the race (it would not
    # overshoot without it either: it would not charge, so the test would fail)
    wait_for(lambda: requests.get(f"{second_apiserver}/api/v1/namespaces/{namespace}/resourcequotas/pods")
             .json().get("status", {}).get("hard"), what="the quota seen by the second apiserver")
    answers = create_concurrently([cluster.server, second_apiserver], namespace, 50)
    check_exactly_ten(api_client, namespace, answers)
    assert {r.url.split("/api/")[0] for r in answers if r.status_code == 201} <= {cluster.server, second_apiserver}


def test_no_overshoot_when_pods_are_deleted_during_a_burst(controllers, cluster, second_apiserver, api_client,
                                                           namespace):
    """Deletes make the controller recount while creates are being charged: the recount
    must not undo a charge whose pod is not stored yet."""
    servers = [cluster.server, second_apiserver]
    make_quota(api_client, namespace, "pods", {"pods": "10"})
    wait_for(lambda: requests.get(f"{second_apiserver}/api/v1/namespaces/{namespace}/resourcequotas/pods")
             .json().get("status", {}).get("hard"), what="the quota seen by the second apiserver")
    assert all(r.status_code == 201 for r in create_concurrently(servers, namespace, 10))

    for wave in range(4):
        doomed = [p["metadata"]["name"] for p in api_client.list("pods", namespace=namespace)["items"]][:3]

        def one(i):
            if i < len(doomed):
                return requests.delete(f"{servers[i % 2]}/api/v1/namespaces/{namespace}/pods/{doomed[i]}", timeout=60)
            return post(servers[i % 2], namespace, "pods", pod(f"w{wave}-{i}"))
        with ThreadPoolExecutor(max_workers=50) as pool:
            list(pool.map(one, range(50)))
        assert len(api_client.list("pods", namespace=namespace)["items"]) <= 10
        time.sleep(1.0 * wave)         # let some recounts land between waves, some during them

    # Once the creates pause, the quota's used comes back to what exists, and the pods
    # it gives back can be taken again, up to exactly 10.
    def settled():
        count = len(api_client.list("pods", namespace=namespace)["items"])
        return used(api_client, namespace, "pods") == {"pods": str(count)} and [count]
    [count] = wait_for(settled, what="the quota recounted")
    answers = [post(cluster.server, namespace, "pods", pod(f"last-{i}")) for i in range(12)]
    assert len(api_client.list("pods", namespace=namespace)["items"]) == 10
    assert sum(r.status_code == 201 for r in answers) == 10 - count


def test_the_403_message_is_kubernetes_and_deletes_give_the_quota_back(controllers, cluster, api_client, namespace):
    make_quota(api_client, namespace, "q", {"pods": "2", "count/configmaps": "1"})
    for name in ("a", "b"):
        assert post(cluster.server, namespace, "pods", pod(name)).status_code == 201
    r = post(cluster.server, namespace, "pods", pod("c"))
    assert r.status_code == 403
    assert r.json()["message"] == ('pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, '
                                   'limited: pods=2')
    assert r.json()["details"] == {"name": "c", "kind": "pods"}
    api_client.delete("pods", "a", namespace=namespace)
    wait_for(lambda: used(api_client, namespace, "q").get("pods") == "1", what="the deleted pod given back")
    assert post(cluster.server, namespace, "pods", pod("c")).status_code == 201
    # object counts of any kind
    assert post(cluster.server, namespace, "configmaps", {"metadata": {"name": "one"}}).status_code == 201
    r = post(cluster.server, namespace, "configmaps", {"metadata": {"name": "two"}})
    assert r.status_code == 403
    assert r.json()["message"] == ('configmaps "two" is forbidden: exceeded quota: q, requested: count/configmaps=1, '
                                   'used: count/configmaps=1, limited: count/configmaps=1')


def test_compute_quota_requires_amounts_and_counts_requests_and_gpus(controllers, cluster, api_client, namespace):
    make_quota(api_client, namespace, "compute", {"requests.cpu": "1", "limits.memory": "1Gi",
                                                  "requests.nvidia.com/gpu": "1"})
    r = post(cluster.server, namespace, "pods", pod("bare"))
    assert r.status_code == 403
    assert r.json()["message"] == ('pods "bare" is forbidden: failed quota: compute: must specify limits.memory '
                                   'for: app; requests.cpu for: app')
    sized = {"requests": {"cpu": "400m"}, "limits": {"memory": "256Mi", "nvidia.com/gpu": "1"}}
    assert post(cluster.server, namespace, "pods", pod("one", sized)).status_code == 201
    assert used(api_client, namespace, "compute") == {"requests.cpu": "400m", "limits.memory": "256Mi",
                                                      "requests.nvidia.com/gpu": "1"}
    r = post(cluster.server, namespace, "pods", pod("two", sized))
    assert r.status_code == 403
    assert r.json()["message"].endswith("exceeded quota: compute, requested: requests.nvidia.com/gpu=1, "
                                        "used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=1")
    no_gpu = {"requests": {"cpu": "400m"}, "limits": {"memory": "256Mi"}}
    assert post(cluster.server, namespace, "pods", pod("two", no_gpu)).status_code == 201
    r = post(cluster.server, namespace, "pods", pod("three", no_gpu))
    assert r.json()["message"].endswith("exceeded quota: compute, requested: requests.cpu=400m, "
                                        "used: requests.cpu=800m, limited: requests.cpu=1")
    # a finished pod stops using compute quota
    done = api_client.get("pods", "one", namespace=namespace)
    done["status"] = {"phase": "Succeeded"}
    api_client.update_status("pods", done)
    wait_for(lambda: used(api_client, namespace, "compute").get("requests.cpu") == "400m",
             what="the finished pod's cpu given back")


def test_scopes_pick_the_pods_a_quota_counts(controllers, cluster, api_client, kubectl, namespace):
    make_quota(api_client, namespace, "best-effort", {"pods": "1"}, scopes=["BestEffort"])
    make_quota(api_client, namespace, "high", {"pods": "1"},
               scopeSelector={"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In",
                                                    "values": ["high"]}]})
    assert post(cluster.server, namespace, "pods", pod("be-1")).status_code == 201
    assert post(cluster.server, namespace, "pods", pod("be-2")).status_code == 403
    burstable = {"requests": {"cpu": "10m"}}
    assert post(cluster.server, namespace, "pods", pod("burst-1", burstable)).status_code == 201
    assert post(cluster.server, namespace, "pods", pod("hi-1", burstable, priorityClassName="high")).status_code == 201
    r = post(cluster.server, namespace, "pods", pod("hi-2", burstable, priorityClassName="high"))
    assert 'exceeded quota: high, requested: pods=1' in r.json()["message"]
    # scoped quotas count pods only: a configmap is not theirs
    assert post(cluster.server, namespace, "configmaps", {"metadata": {"name": "cm"}}).status_code == 201
    text = kubectl("describe", "quota", "best-effort", "-n", namespace).stdout
    assert "Scopes:     BestEffort\n * Matches all pods that do not have resource requirements set." in text
    assert mkctl(cluster, "describe", "quota", "best-effort", "-n", namespace) == text


def test_limitrange_defaults_are_visible_in_the_pod_and_bounds_refuse(controllers, cluster, api_client, namespace):
    api_client.create("limitranges", {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
                                      "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                                                           "default": {"cpu": "500m", "memory": "128Mi"},
                                                           "defaultRequest": {"cpu": "100m"}}]}},
                      namespace=namespace)
    lr = api_client.get("limitranges", "limits", namespace=namespace)
    assert lr["spec"]["limits"][0]["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}
    # The apiserver's LimitRange lister sees the new range a moment later: a pod over its max,
    # refused, shows it has (a pod let in before that is just another pod of the namespace).
    tries = itertools.count()
    [r] = wait_for(lambda: (r := post(cluster.server, namespace, "pods", pod(f"big-{next(tries)}",
                                                                              {"limits": {"cpu": "2"}})))
                   .status_code == 403 and [r], what="the LimitRange seen", timeout=10)   # (a 403 Response is falsy)
    assert r.json()["message"].endswith('" is forbidden: maximum cpu usage per Container is 1, but limit is 2')
    created = post(cluster.server, namespace, "pods", pod("plain"))
    assert created.status_code == 201, created.text
    res = created.json()["spec"]["containers"][0]["resources"]
    assert res == {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert api_client.get("pods", "plain", namespace=namespace)["spec"]["containers"][0]["resources"] == res
    assert created.json()["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == \
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app"


def test_kubectl_get_and_describe_quota(controllers, cluster, api_client, kubectl, namespace):
    kubectl("create", "quota", "compute", "--hard=pods=4,requests.cpu=2", "-n", namespace)
    wait_for(lambda: api_client.get("resourcequotas", "compute", namespace=namespace).get("status", {}).get("used"),
             what="the quota counted")
    assert post(cluster.server, namespace, "pods", pod("one", {"requests": {"cpu": "500m"}})).status_code == 201
    header, row = kubectl("get", "quota", "-n", namespace).stdout.splitlines()[:2]
    assert header.split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert row.split()[0] == "compute" and "pods: 1/4, requests.cpu: 500m/2" in row
    text = kubectl("describe", "quota", "compute", "-n", namespace).stdout
    lines = [line.split() for line in text.splitlines()]
    assert ["Resource", "Used", "Hard"] in lines
    assert ["pods", "1", "4"] in lines and ["requests.cpu", "500m", "2"] in lines
    assert mkctl(cluster, "describe", "quota", "compute", "-n", namespace) == text
    # the LimitRange, both ways
    api_client.create("limitranges", {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
                                      "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}},
                      namespace=namespace)
    text = kubectl("describe", "limits", "limits", "-n", namespace).stdout
    assert ["Container", "cpu", "-", "1", "1", "1", "-"] in [line.split() for line in text.splitlines()]
    assert mkctl(cluster, "describe", "limitrange", "limits", "-n", namespace) == text


def mkctl(cluster, *args) -> str:
    return subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", cluster.kubeconfig, *args],
                          capture_output=True, text=True, timeout=60, check=True, env=dict(os.environ)).stdout


def claim(name, size, klass=None):
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if klass:
        spec["storageClassName"] = klass
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}


def test_claims_are_charged_their_storage_and_held_to_a_limit_range(controllers, cluster, api_client, namespace):
    gold = "gold.storageclass.storage.k8s.io/requests.storage"
    make_quota(api_client, namespace, "storage", {"requests.storage": "5Gi", "persistentvolumeclaims": "3", gold: "1Gi"})
    assert post(cluster.server, namespace, "persistentvolumeclaims", claim("a", "3Gi", "")).status_code == 201
    r = post(cluster.server, namespace, "persistentvolumeclaims", claim("b", "3Gi", ""))
    assert r.status_code == 403
    assert r.json()["message"] == ('persistentvolumeclaims "b" is forbidden: exceeded quota: storage, requested: '
                                   'requests.storage=3Gi, used: requests.storage=3Gi, limited: requests.storage=5Gi')
    r = post(cluster.server, namespace, "persistentvolumeclaims", claim("c", "2Gi", "gold"))
    assert r.json()["message"].endswith(f"requested: {gold}=2Gi, used: {gold}=0, limited: {gold}=1Gi")
    assert used(api_client, namespace, "storage") == {"requests.storage": "3Gi", "persistentvolumeclaims": "1", gold: "0"}
    api_client.delete("persistentvolumeclaims", "a", namespace=namespace)
    wait_for(lambda: used(api_client, namespace, "storage")["requests.storage"] == "0", what="the claim given back")
    api_client.create("limitranges", {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "claims"},
                                      "spec": {"limits": [{"type": "PersistentVolumeClaim", "max": {"storage": "2Gi"}}]}},
                      namespace=namespace)
    [r] = wait_for(lambda: (r := post(cluster.server, namespace, "persistentvolumeclaims", claim("d", "3Gi", "")))
                   .status_code == 403 and [r], what="the LimitRange seen", timeout=10)   # (a 403 Response is falsy)
    assert r.json()["message"] == ('persistentvolumeclaims "d" is forbidden: maximum storage usage per '
                                   'PersistentVolumeClaim is 2Gi, but request is 3Gi')
