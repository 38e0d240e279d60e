"""The apiserver's REST behaviour, over HTTP, on a real etcd."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests


def pod(name, labels=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def deployment(name, replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


@pytest.fixture
def api(api_url, namespace):
    class API:
        ns = namespace
        url = api_url
        pods = f"{api_url}/api/v1/namespaces/{namespace}/pods"
        deploys = f"{api_url}/apis/apps/v1/namespaces/{namespace}/deployments"
    return API


def test_create_sets_server_fields(api):
    r = requests.post(api.pods, json=pod("p1"))
    assert r.status_code == 201, r.text
    md = r.json()["metadata"]
    assert md["uid"] and md["creationTimestamp"].endswith("Z") and md["generation"] == 1
    assert md["namespace"] == api.ns and int(md["resourceVersion"]) > 0
    assert r.json()["status"]["phase"] == "Pending"
    assert r.json()["spec"]["restartPolicy"] == "Always"   # defaulted


def test_get_at_resource_version_0_answers_the_object_as_kubectl_sees_it(api):
    created = requests.post(api.pods, json=pod("rv0")).json()
    deadline = time.time() + 5
    while True:           # any version will do: the watch cache's copy, or etcd's
        r = requests.get(f"{api.pods}/rv0", params={"resourceVersion": "0"})
        assert r.status_code == 200, r.text
        if r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"] \
                or time.time() > deadline:
            break
        time.sleep(0.05)
    assert r.json() == requests.get(f"{api.pods}/rv0").json()
    assert requests.get(f"{api.pods}/nope", params={"resourceVersion": "0"}).status_code == 404


def test_generate_name(api):
    r = requests.post(api.pods, json={**pod(""), "metadata": {"generateName": "web-"}})
    assert r.status_code == 201, r.text
    name = r.json()["metadata"]["name"]
    assert name.startswith("web-") and len(name) == len("web-") + 5


def test_get_list_and_selectors(api):
    requests.post(api.pods, json=pod("a", {"app": "web", "tier": "fe"})).raise_for_status()
    requests.post(api.pods, json=pod("b", {"app": "web", "tier": "be"})).raise_for_status()
    requests.post(api.pods, json=pod("c", {"app": "db"})).raise_for_status()

    def names(**params):
        r = requests.get(api.pods, params=params)
        assert r.status_code == 200, r.text
        assert r.json()["kind"] == "PodList" and r.json()["metadata"]["resourceVersion"]
        return sorted(p["metadata"]["name"] for p in r.json()["items"])

    assert names() == ["a", "b", "c"]
    assert names(labelSelector="app=web") == ["a", "b"]
    assert names(labelSelector="app!=web") == ["c"]
    assert names(labelSelector="tier in (fe,xx)") == ["a"]
    assert names(labelSelector="tier notin (fe)") == ["b", "c"]
    assert names(labelSelector="tier") == ["a", "b"]
    assert names(labelSelector="!tier") == ["c"]
    assert names(fieldSelector="metadata.name=b") == ["b"]
    assert names(fieldSelector="metadata.name!=b") == ["a", "c"]
    assert names(fieldSelector="status.phase=Pending") == ["a", "b", "c"]
    assert names(fieldSelector="spec.nodeName=") == ["a", "b", "c"]
    # across namespaces
    r = requests.get(f"{api.url}/api/v1/pods", params={"fieldSelector": f"metadata.namespace={api.ns}"})
    assert len(r.json()["items"]) == 3
    r = requests.get(api.pods, params={"labelSelector": "app in (web"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"


def test_update_with_stale_resource_version_conflicts(api):
    created = requests.post(api.pods, json=pod("p")).json()
    first = dict(created, metadata={**created["metadata"], "labels": {"v": "1"}})
    r = requests.put(f"{api.pods}/p", json=first)
    assert r.status_code == 200, r.text
    stale = dict(created, metadata={**created["metadata"], "labels": {"v": "2"}})
    r = requests.put(f"{api.pods}/p", json=stale)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert "the object has been modified" in r.json()["message"]
    assert requests.get(f"{api.pods}/p").json()["metadata"]["labels"] == {"v": "1"}   # nothing written
    # without a resourceVersion the update is unconditional
    del stale["metadata"]["resourceVersion"]
    assert requests.put(f"{api.pods}/p", json=stale).status_code == 200


def test_generation_counts_spec_changes_only(api):
    d = requests.post(api.deploys, json=deployment("web")).json()
    assert d["metadata"]["generation"] == 1
    r = requests.patch(f"{api.deploys}/web", json={"metadata": {"labels": {"x": "y"}}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 1
    r = requests.patch(f"{api.deploys}/web", json={"spec": {"replicas": 5}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 2


def test_status_is_written_only_through_status_subresource(api):
    d = requests.post(api.deploys, json={**deployment("web"), "status": {"replicas": 9}}).json()
    assert "replicas" not in d.get("status", {})
    d["status"] = {"replicas": 3}
    d["spec"]["replicas"] = 7
    r = requests.put(f"{api.deploys}/web/status", json=d)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"]["replicas"] == 3 and got["spec"]["replicas"] == 2   # spec untouched
    got["status"] = {"replicas": 100}
    r = requests.put(f"{api.deploys}/web", json=got)
    assert r.json()["status"]["replicas"] == 3     # main resource ignores status


def test_status_patch_with_uid_test_and_terminal_phase(api):
    """What the kubelet sends: test the uid, replace the status; a finished pod stays finished."""
    uid = requests.post(api.pods, json=pod("st")).json()["metadata"]["uid"]
    url = f"{api.pods}/st/status"
    hdr = {"Content-Type": "application/json-patch+json"}

    def replace(status, with_uid=uid):
        return requests.patch(url, headers=hdr, data=json.dumps(
            [{"op": "test", "path": "/metadata/uid", "value": with_uid},
             {"op": "replace", "path": "/status", "value": status}]))
    r = replace({"phase": "Succeeded"})
    assert r.status_code == 200 and r.json()["status"] == {"phase": "Succeeded"}
    r = replace({"phase": "Succeeded"}, with_uid="not-this-pod")
    assert r.status_code == 422
    r = replace({"phase": "Running"})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    assert "cannot transition from terminal phase" in r.json()["message"]
    assert requests.get(f"{api.pods}/st").json()["status"]["phase"] == "Succeeded"


def test_scale_subresource(api):
    requests.post(api.deploys, json=deployment("web", 2)).raise_for_status()
    s = requests.get(f"{api.deploys}/web/scale").json()
    assert s["kind"] == "Scale" and s["apiVersion"] == "autoscaling/v1"
    assert s["spec"]["replicas"] == 2 and s["status"]["selector"] == "app=web"
    r = requests.patch(f"{api.deploys}/web/scale", json={"spec": {"replicas": 4}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4
    assert requests.get(f"{api.deploys}/web").json()["spec"]["replicas"] == 4
    r = requests.patch(f"{api.deploys}/web/scale", json={"spec": {"replicas": -1}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"


def test_patch_types(api):
    requests.post(api.pods, json=pod("p", {"a": "1"})).raise_for_status()
    url = f"{api.pods}/p"
    r = requests.patch(url, data=json.dumps([{"op": "add", "path": "/metadata/labels/b", "value": "2"}]),
                       headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"a": "1", "b": "2"}
    r = requests.patch(url, json={"metadata": {"labels": {"a": None}}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["labels"] == {"b": "2"}
    r = requests.patch(url, json={"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}},
                       headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["containers"][0]["image"] == "busybox:2"
    r = requests.patch(url, data=json.dumps([{"op": "test", "path": "/metadata/name", "value": "x"}]),
                       headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 422
    r = requests.patch(url, json={}, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_protobuf_bodies(api):
    """kubectl's typed commands send protobuf: a kind we decode is created, others get 415 or 400."""
    from minikube_py.apiserver.k8sproto import core_pb2, meta_pb2, runtime_pb2

    def body(kind, obj):
        unknown = runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion="v1", kind=kind),
                                      raw=obj.SerializeToString())
        return b"k8s\x00" + unknown.SerializeToString()

    proto = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    p = core_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="pb", labels={"a": "1"}),
                     spec=core_pb2.PodSpec(containers=[core_pb2.Container(name="c", image="busybox")]))
    r = requests.post(api.pods, data=body("Pod", p), headers=proto)
    assert r.status_code == 201, r.text
    got = requests.get(f"{api.pods}/pb").json()
    assert got["metadata"]["labels"] == {"a": "1"} and got["spec"]["containers"][0]["image"] == "busybox"
    # update through protobuf too
    p.metadata.resourceVersion = got["metadata"]["resourceVersion"]
    p.metadata.labels["b"] = "2"
    r = requests.put(f"{api.pods}/pb", data=body("Pod", p), headers=proto)
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"a": "1", "b": "2"}, r.text

    r = requests.post(api.pods, data=b"k8s\x00\xff\xff", headers=proto)
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert "could not be decoded as protobuf" in r.json()["message"]
    r = requests.post(api.pods, data=body("Frobnicator", core_pb2.Pod()), headers=proto)   # a kind we don't decode
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"


def test_bad_input_gets_status_and_writes_nothing(api):
    def expect(resp, code, reason):
        assert resp.status_code == code, resp.text
        body = resp.json()
        assert body["kind"] == "Status" and body["status"] == "Failure"
        assert body["reason"] == reason and body["code"] == code

    before = requests.get(api.pods).json()["items"]
    expect(requests.post(api.pods, data="{not json", headers={"Content-Type": "application/json"}),
           400, "BadRequest")
    expect(requests.post(api.pods, json={**pod("x"), "kind": "Node"}), 400, "BadRequest")
    expect(requests.post(api.pods, json={**pod("x"), "apiVersion": "apps/v1"}), 400, "BadRequest")
    expect(requests.post(api.pods, json={**pod("x"), "metadata": {"name": "x", "namespace": "other"}}),
           400, "BadRequest")
    r = requests.post(api.pods, json=pod("Bad_Name"))
    expect(r, 422, "Invalid")
    assert r.json()["details"]["causes"][0]["field"] == "metadata.name"
    expect(requests.post(api.pods, json={**pod("x"), "spec": {"containers": []}}), 422, "Invalid")
    expect(requests.post(api.deploys, json=deployment("neg", -1)), 422, "Invalid")
    big = pod("big", {"a": "b"})
    big["metadata"]["annotations"] = {"x": "y" * (3 * 1024 * 1024 + 10)}
    expect(requests.post(api.pods, json=big), 413, "RequestEntityTooLarge")
    expect(requests.get(f"{api.url}/api/v1/namespaces/{api.ns}/widgets"), 404, "NotFound")
    expect(requests.get(f"{api.pods}/nope"), 404, "NotFound")
    expect(requests.post(f"{api.url}/api/v1/namespaces/does-not-exist/pods", json=pod("x")), 404, "NotFound")
    assert requests.get(api.pods).json()["items"] == before
    requests.post(api.pods, json=pod("dup")).raise_for_status()
    expect(requests.post(api.pods, json=pod("dup")), 409, "AlreadyExists")


def test_delete_with_finalizers_and_propagation(api):
    d = deployment("web")
    d["metadata"]["finalizers"] = ["example.com/keep"]
    requests.post(api.deploys, json=d).raise_for_status()
    r = requests.delete(f"{api.deploys}/web", json={"propagationPolicy": "Foreground"})
    assert r.status_code == 200
    obj = requests.get(f"{api.deploys}/web").json()
    assert obj["metadata"]["deletionTimestamp"]
    assert set(obj["metadata"]["finalizers"]) == {"example.com/keep", "foregroundDeletion"}
    # removing the last finalizer lets the object go
    r = requests.patch(f"{api.deploys}/web", json={"metadata": {"finalizers": None}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200
    assert requests.get(f"{api.deploys}/web").status_code == 404
    # orphan via query parameter (the Python client's way)
    requests.post(api.deploys, json=deployment("web2")).raise_for_status()
    requests.delete(f"{api.deploys}/web2", params={"propagationPolicy": "Orphan"})
    assert requests.get(f"{api.deploys}/web2").json()["metadata"]["finalizers"] == ["orphan"]


def test_bound_pod_deletes_gracefully(api):
    requests.post(api.pods, json=pod("p", nodeName="node-1")).raise_for_status()
    r = requests.delete(f"{api.pods}/p")
    assert r.status_code == 200
    got = requests.get(f"{api.pods}/p").json()
    assert got["metadata"]["deletionTimestamp"] and got["metadata"]["deletionGracePeriodSeconds"] == 30
    # the kubelet confirms with grace 0 once its containers are gone
    assert requests.delete(f"{api.pods}/p", json={"gracePeriodSeconds": 0}).status_code == 200
    assert requests.get(f"{api.pods}/p").status_code == 404


def test_binding(api):
    requests.post(api.pods, json=pod("p")).raise_for_status()
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    r = requests.post(f"{api.pods}/p/binding", json=binding)
    assert r.status_code == 201, r.text
    got = requests.get(f"{api.pods}/p").json()
    assert got["spec"]["nodeName"] == "node-1"
    assert {"type": "PodScheduled", "status": "True"}.items() <= got["status"]["conditions"][0].items()
    r = requests.post(f"{api.pods}/p/binding", json=binding)
    assert r.status_code == 409


def test_eviction(api):
    """pods/eviction (what kubectl drain POSTs): the pod's DELETE with the Eviction's deleteOptions."""
    def evict(name, body_name=None, **delete_options):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": body_name or name, "namespace": api.ns}}
        if delete_options:
            body["deleteOptions"] = delete_options
        return requests.post(f"{api.pods}/{name}/eviction", json=body)

    requests.post(api.pods, json=pod("unbound")).raise_for_status()
    r = evict("unbound")
    assert r.status_code == 201, r.text
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    assert requests.get(f"{api.pods}/unbound").status_code == 404          # unbound: gone at once

    requests.post(api.pods, json=pod("bound", nodeName="node-1")).raise_for_status()
    assert evict("bound").status_code == 201
    got = requests.get(f"{api.pods}/bound").json()                         # bound: the kubelet stops it
    assert got["metadata"]["deletionTimestamp"] and got["metadata"]["deletionGracePeriodSeconds"] == 30
    r = evict("bound", gracePeriodSeconds=0, preconditions={"uid": "not-its-uid"})
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"       # preconditions as on DELETE
    assert evict("bound", gracePeriodSeconds=0).status_code == 201         # 0: delete now
    assert requests.get(f"{api.pods}/bound").status_code == 404

    # the same through protobuf, as a client-go with the protobuf content type sends it
    from minikube_py.apiserver.k8sproto import meta_pb2, policy_pb2, runtime_pb2
    requests.post(api.pods, json=pod("pb", nodeName="node-1")).raise_for_status()
    ev = policy_pb2.Eviction(metadata=meta_pb2.ObjectMeta(name="pb", namespace=api.ns),
                             deleteOptions=meta_pb2.DeleteOptions(gracePeriodSeconds=0))
    raw = runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion="policy/v1", kind="Eviction"),
                              raw=ev.SerializeToString()).SerializeToString()
    r = requests.post(f"{api.pods}/pb/eviction", data=b"k8s\x00" + raw,
                      headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status_code == 201, r.text
    assert requests.get(f"{api.pods}/pb").status_code == 404

    r = evict("missing")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    requests.post(api.pods, json=pod("p")).raise_for_status()
    r = evict("p", body_name="q")
    assert r.status_code == 400 and "does not match" in r.json()["message"]
    r = requests.post(f"{api.pods}/p/eviction", json=pod("p"))              # a Pod, not an Eviction
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert requests.get(f"{api.pods}/p/eviction").status_code == 405
    assert requests.get(f"{api.pods}/p").status_code == 200                # refused ones deleted nothing

def test_deletecollection(api):
    for n in ("a", "b", "c"):
        requests.post(api.pods, json=pod(n, {"del": "yes" if n != "c" else "no"})).raise_for_status()
    r = requests.delete(api.pods, params={"labelSelector": "del=yes"})
    assert r.status_code == 200
    assert [p["metadata"]["name"] for p in requests.get(api.pods).json()["items"]] == ["c"]


def read_events(resp, n, timeout=10):
    out = []
    deadline = time.time() + timeout
    for line in resp.iter_lines():
        if line:
            out.append(json.loads(line))
        if len(out) >= n or time.time() > deadline:
            break
    return out


def test_watch_streams_events_with_selectors(api):
    rv = requests.get(api.pods).json()["metadata"]["resourceVersion"]
    with requests.get(api.pods, params={"watch": "1", "resourceVersion": rv, "labelSelector": "app=web"},
                      stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        requests.post(api.pods, json=pod("other", {"app": "db"})).raise_for_status()
        requests.post(api.pods, json=pod("w", {"app": "web"})).raise_for_status()
        requests.patch(f"{api.pods}/w", json={"metadata": {"labels": {"app": "none"}}},
                       headers={"Content-Type": "application/merge-patch+json"})
        events = read_events(resp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w"), ("DELETED", "w")]


def test_watch_without_resource_version_starts_with_current_state(api):
    requests.post(api.pods, json=pod("existing")).raise_for_status()
    with requests.get(api.pods, params={"watch": "true"}, stream=True, timeout=10) as resp:
        events = read_events(resp, 1)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "existing"


def test_watch_headers_come_before_any_event_and_timeout_ends_stream(api):
    t0 = time.time()
    rv = requests.get(api.pods).json()["metadata"]["resourceVersion"]
    resp = requests.get(api.pods, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "2"},
                        stream=True, timeout=10)
    assert resp.status_code == 200 and time.time() - t0 < 2
    assert list(resp.iter_lines()) == []          # the stream ends at timeoutSeconds
    assert time.time() - t0 < 6


def test_a_client_resuming_after_each_timeout_misses_no_pod_while_writes_are_grouped(api):
    """Writes that go to etcd together share a resourceVersion; watches ended by their
    timeout still end between revisions, so resuming from the last one seen loses nothing."""
    from concurrent.futures import ThreadPoolExecutor
    names = [f"g{i}" for i in range(150)]
    rv = requests.get(api.pods).json()["metadata"]["resourceVersion"]
    seen, rvs = set(), []

    def create_all():
        with ThreadPoolExecutor(12) as pool:
            list(pool.map(lambda n: requests.post(api.pods, json=pod(n)).raise_for_status(), names))
    writer = threading.Thread(target=create_all)
    writer.start()
    deadline = time.time() + 60
    while len(seen) < len(names) and time.time() < deadline:
        with requests.get(api.pods, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"},
                          stream=True, timeout=10) as resp:
            for line in resp.iter_lines():
                ev = json.loads(line)
                assert ev["type"] == "ADDED"
                seen.add(ev["object"]["metadata"]["name"])
                rv = ev["object"]["metadata"]["resourceVersion"]
                rvs.append(rv)
    writer.join()
    assert seen == set(names)
    assert len(rvs) == len(names)                # each pod once, none twice
    assert len(set(rvs)) < len(rvs)              # and some did share a revision


def test_watch_too_old_resource_version_is_expired(api, cluster):
    from minikube_py.storage.etcd import EtcdStore
    store = EtcdStore(cluster.etcd_url)
    for i in range(3):
        requests.post(api.pods, json=pod(f"c{i}")).raise_for_status()
    store.compact(store.current_revision())
    # A restarted apiserver's cache can only replay what etcd still has: history before
    # the compaction is gone, so an old resourceVersion is Expired (clients re-list).
    cluster.stop_apiserver()
    cluster.start_apiserver()
    with requests.get(api.pods, params={"watch": "1", "resourceVersion": "1"}, stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        events = read_events(resp, 1)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


def test_many_watchers_each_get_the_event(api):
    rv = requests.get(api.pods).json()["metadata"]["resourceVersion"]
    streams = [requests.get(api.pods, params={"watch": "1", "resourceVersion": rv}, stream=True, timeout=10)
               for _ in range(50)]
    requests.post(api.pods, json=pod("fanout")).raise_for_status()
    for s in streams:
        ev = read_events(s, 1)
        assert ev[0]["object"]["metadata"]["name"] == "fanout"
        s.close()


def test_resource_paths_and_other_paths_fail_alike_with_a_status(api_url):
    """Resource paths are served by ResourceRoutes, the rest by Flask: a client can't tell."""
    for method, path, code, reason in [
            ("GET", "/api/v1/foos", 404, "NotFound"),                       # unknown resource
            ("GET", "/api/v2/pods", 404, "NotFound"),                       # unknown version
            ("GET", "/apis/nope", 404, "NotFound"),                         # unknown group
            ("GET", "/nope", 404, "NotFound"),                              # not an API path
            ("PUT", "/api/v1/namespaces", 405, "MethodNotAllowed"),         # on a collection
            ("POST", "/version", 405, "MethodNotAllowed")]:
        r = requests.request(method, api_url + path, json={})
        body = r.json()
        assert (r.status_code, body["kind"], body["code"], body["reason"]) == (code, "Status", code, reason), path
    head = requests.head(api_url + "/api/v1/namespaces")
    assert head.status_code == 200 and head.content == b""


def test_discovery(api_url):
    assert requests.get(f"{api_url}/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in requests.get(f"{api_url}/apis/").json()["groups"]}
    assert {"apps", "coordination.k8s.io"} <= groups
    core = {r["name"]: r for r in requests.get(f"{api_url}/api/v1").json()["resources"]}
    assert core["pods"]["namespaced"] and core["pods"]["shortNames"] == ["po"]
    # kubectl drain looks for this entry (CheckEvictionSupport) before it evicts anything
    assert {"group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}.items() \
        <= core["pods/eviction"].items()
    apps = {r["name"]: r for r in requests.get(f"{api_url}/apis/apps/v1").json()["resources"]}
    assert apps["deployments/scale"]["group"] == "autoscaling" and apps["deployments/scale"]["kind"] == "Scale"
    assert requests.get(f"{api_url}/version").json()["major"] == "1"


def test_table_output(api):
    requests.post(api.pods, json=pod("t")).raise_for_status()
    r = requests.get(api.pods, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    t = r.json()
    assert t["kind"] == "Table"
    assert [c["name"] for c in t["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert t["rows"][0]["cells"][:3] == ["t", "0/1", "Pending"]
    assert t["rows"][0]["object"]["metadata"]["name"] == "t"


def test_keep_alive_connection_serves_requests_in_turn_and_pipelined(api_url, namespace):
    """One connection, many requests: sent one after the other, or all in one write."""
    import socket
    from urllib.parse import urlparse

    u = urlparse(api_url)
    request = (f"GET /api/v1/namespaces/{namespace}/pods HTTP/1.1\r\nHost: {u.hostname}\r\n"
               "Accept: application/json\r\n\r\n").encode()
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        reader = s.makefile("rb")

        def read_response():
            status = reader.readline()
            headers = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                k, v = line.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            body = json.loads(reader.read(int(headers["content-length"])))
            return status, body

        for _ in range(3):                     # in turn, on the same connection
            s.sendall(request)
            status, body = read_response()
            assert status.startswith(b"HTTP/1.1 200") and body["kind"] == "PodList"
        time.sleep(0.5)                        # idle long enough to go back to the selector
        s.sendall(request * 3)                 # pipelined: three in one write
        for _ in range(3):
            status, body = read_response()
            assert status.startswith(b"HTTP/1.1 200") and body["kind"] == "PodList"


def test_event_watches_work_though_events_are_cached_only_once_watched(api):
    """kube-apiserver caches no events; ours opens the events cache on the first watch."""
    events_url = f"{api.url}/api/v1/namespaces/{api.ns}/events"

    def event(name):
        return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
                "involvedObject": {"kind": "Pod", "name": "p", "namespace": api.ns},
                "reason": "Tested", "message": name, "type": "Normal"}

    rv = requests.get(events_url).json()["metadata"]["resourceVersion"]
    requests.post(events_url, json=event("before-the-watch")).raise_for_status()
    with requests.get(events_url, params={"watch": "1", "resourceVersion": rv}, stream=True,
                      timeout=10) as resp:
        assert resp.status_code == 200
        requests.post(events_url, json=event("during-the-watch")).raise_for_status()
        seen = read_events(resp, 2)
    assert [(e["type"], e["object"]["message"]) for e in seen] == [
        ("ADDED", "before-the-watch"), ("ADDED", "during-the-watch")]
