"""etcd's history is compacted, as kube-apiserver's --etcd-compaction-interval does it.

Without compaction etcd keeps every revision of every object; its database only grows.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from clusters import Cluster
from minikube_py.storage.compactor import Compactor
from minikube_py.storage.embedded import free_port, start_etcd
from minikube_py.storage.etcd import COMPACT_KEY, EtcdStore
from minikube_py.storage.store import StoreUnavailable


def _ready(store):
    """etcd listens before it has elected itself leader: wait until it answers."""
    deadline = time.time() + 15
    while True:
        try:
            return store.current_revision()
        except StoreUnavailable:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def etcd(tmp_path):
    proc, url = start_etcd(str(tmp_path / "etcd"))
    store = EtcdStore(url)
    _ready(store)
    yield store
    store.close()
    proc.kill()
    proc.wait()


def _write(store, n):
    for i in range(n):
        store.create(f"/registry/configmaps/default/cm-{time.monotonic_ns()}-{i}", {"metadata": {}})


def test_each_round_compacts_to_the_revision_of_the_round_before(etcd):
    c = Compactor(etcd, interval=0)
    _write(etcd, 3)
    assert c.round() is None                 # the first round only remembers where etcd is
    first = c.last_revision
    _write(etcd, 3)
    assert c.round() == first                # history up to one round ago is gone ...
    assert not etcd.revision_available(first - 1)
    assert etcd.revision_available(c.last_revision)      # ... the newest round's is kept


def test_of_two_apiservers_on_one_etcd_one_compacts_per_round(etcd):
    a, b = Compactor(etcd, interval=0), Compactor(etcd, interval=0)
    assert a.round() is None and b.round() is None    # a claims round 1; b loses it, and learns
    _write(etcd, 2)
    a_saw = a.last_revision
    assert a.round() == a_saw          # a claims round 2 and compacts
    assert b.round() is None           # b saw round 1's version: round 2 is not its to claim
    b_saw = b.last_revision
    _write(etcd, 2)
    assert b.round() == b_saw          # now b has seen round 2: round 3 is b's
    assert a.round() is None
    assert not etcd.revision_available(b_saw - 1)
    assert etcd._range(COMPACT_KEY.encode()).kvs[0].version == 3     # three rounds, one claim each


def test_a_round_while_etcd_is_down_fails_and_the_next_one_compacts(tmp_path):
    ports = free_port(), free_port()
    proc, url = start_etcd(str(tmp_path / "etcd"), *ports)
    store = EtcdStore(url, timeout=1.0)
    try:
        _ready(store)
        c = Compactor(store, interval=0)
        c.round()
        first = c.last_revision
        proc.kill()
        proc.wait()
        with pytest.raises(StoreUnavailable):      # the compactor's loop logs it and waits a round
            c.round()
        proc, _ = start_etcd(str(tmp_path / "etcd"), *ports)
        _ready(store)
        _write(store, 1)
        assert c.round() == first                  # the failed round changed nothing: this one
        assert not store.revision_available(first - 1)     # compacts where it would have
    finally:
        store.close()
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def compacting_cluster():
    c = Cluster(apiserver_args=("--etcd-compaction-interval", "1s")).start()
    yield c
    c.stop()


def test_a_continue_token_older_than_the_interval_expires(compacting_cluster):
    server = compacting_cluster.server
    for i in range(3):
        requests.post(f"{server}/api/v1/namespaces/default/configmaps",
                      json={"metadata": {"name": f"page-{i}"}}).raise_for_status()
    first = requests.get(f"{server}/api/v1/namespaces/default/configmaps", params={"limit": 1}).json()
    token = first["metadata"]["continue"]
    deadline = time.time() + 20
    while True:
        # something is written every round, so every round has a newer revision to keep
        requests.post(f"{server}/api/v1/namespaces/default/configmaps",
                      json={"metadata": {"generateName": "tick-"}}).raise_for_status()
        r = requests.get(f"{server}/api/v1/namespaces/default/configmaps",
                         params={"limit": 1, "continue": token})
        if r.status_code == 410 or time.time() > deadline:
            break
        assert r.status_code == 200, r.text
        time.sleep(0.5)
    assert r.status_code == 410 and r.json()["reason"] == "Expired", r.text
    # the cluster itself goes on: a fresh list has everything
    fresh = requests.get(f"{server}/api/v1/namespaces/default/configmaps")
    assert fresh.status_code == 200
    assert {"page-0", "page-1", "page-2"} <= {o["metadata"]["name"] for o in fresh.json()["items"]}


def test_a_bad_interval_is_refused_before_anything_starts():
    out = subprocess.run([sys.executable, "-m", "minikube_py.cli.minikube", "apiserver",
                          "--etcd-compaction-interval", "soon"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "'soon' is not a duration" in out.stderr
