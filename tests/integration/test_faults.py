"""Faults: etcd going away and coming back, the apiserver restarting under its clients."""
from __future__ import annotations

import json
import time

import requests
from polling import wait_through_restart


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_etcd_outage_gives_503_and_service_resumes(cluster, namespace):
    pods = f"{cluster.server}/api/v1/namespaces/{namespace}/pods"
    requests.post(pods, json=pod("before")).raise_for_status()
    rv = requests.get(pods).json()["metadata"]["resourceVersion"]
    watch = requests.get(pods, params={"watch": "1", "resourceVersion": rv}, stream=True, timeout=30)
    cluster.stop_etcd()
    try:
        t0 = time.time()
        r = requests.get(pods, timeout=30)
        assert r.status_code in (500, 503), r.text
        assert r.json()["kind"] == "Status"
        assert time.time() - t0 < 15                   # an answer, not a hang
        r = requests.post(pods, json=pod("during"), timeout=30)
        assert r.status_code in (500, 503)
        # the watch stream ends, so its client knows to resume
        assert list(watch.iter_lines()) == []
    finally:
        cluster.start_etcd()
    wait_through_restart(lambda: requests.get(pods, timeout=5).status_code == 200, "the list once etcd is back")
    names = [p["metadata"]["name"] for p in requests.get(pods).json()["items"]]
    assert names == ["before"]                         # nothing half-written
    # a watcher resumes from its last resourceVersion and sees what happened since
    requests.post(pods, json=pod("after")).raise_for_status()
    with requests.get(pods, params={"watch": "1", "resourceVersion": rv}, stream=True, timeout=30) as resumed:
        line = next(resumed.iter_lines())
    ev = json.loads(line)
    assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "after"


def test_apiserver_restart_keeps_data_and_watch_resumes(cluster, namespace):
    pods = f"{cluster.server}/api/v1/namespaces/{namespace}/pods"
    requests.post(pods, json=pod("a")).raise_for_status()
    rv = requests.get(pods).json()["metadata"]["resourceVersion"]
    cluster.stop_apiserver()
    cluster.start_apiserver()
    assert [p["metadata"]["name"] for p in requests.get(pods).json()["items"]] == ["a"]
    requests.post(pods, json=pod("b")).raise_for_status()
    with requests.get(pods, params={"watch": "1", "resourceVersion": rv}, stream=True, timeout=30) as resumed:
        ev = json.loads(next(resumed.iter_lines()))
    assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "b"
