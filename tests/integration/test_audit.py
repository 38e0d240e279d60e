"""The audit log of an apiserver started with --audit-log-path: who did what, when.

The real kubectl creates and deletes a ConfigMap; each write is one audit.k8s.io/v1
Event line at Metadata (the default policy), reads are not logged, a token user is
logged with its groups, and a refused write (401) is logged without a user. (kubectl
sends a bearer token only over TLS: on this plain-HTTP apiserver it is anonymous.)
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import time

import pytest
import requests

from clusters import Cluster
from minikube_py.client.kubeconfig import write_kubeconfig

TOKEN = "audit-admin-token"


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    home = tmp_path_factory.mktemp("audit")
    (home / "tokens.csv").write_text(f'{TOKEN},jane,42,"system:masters,auditors"\n')
    log = home / "audit.log"
    c = Cluster(apiserver_args=("--audit-log-path", str(log), "--token-auth-file", str(home / "tokens.csv")))
    c.start()
    kubeconfig = write_kubeconfig(str(home / "kubeconfig"), c.server)

    def kubectl(*args):
        proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, KUBECONFIG=kubeconfig, HOME=str(home)))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    yield c.server, log, kubectl
    c.stop()


def events(log, **match):
    """The Events so far whose fields include `match` (nested dicts match by their keys)."""
    def has(have, want):
        if isinstance(want, dict):
            return isinstance(have, dict) and all(has(have.get(k), v) for k, v in want.items())
        return have == want
    return [e for e in map(json.loads, log.read_text().splitlines()) if has(e, match)]


def wait_for(log, **match):
    for _ in range(50):          # written when the response is complete: a moment after the client has it
        found = events(log, **match)
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no event {match} in\n{log.read_text()[-3000:]}")


def test_kubectl_create_and_delete_are_in_the_log_with_who_what_when(audited):
    server, log, kubectl = audited
    before = datetime.datetime.now(datetime.timezone.utc)
    kubectl("create", "configmap", "audited", "--from-literal=a=b", "-n", "default")
    kubectl("get", "configmap", "audited", "-n", "default")
    kubectl("delete", "configmap", "audited", "-n", "default")

    [created] = wait_for(log, verb="create", objectRef={"resource": "configmaps", "name": "audited"})
    assert created["kind"] == "Event" and created["apiVersion"] == "audit.k8s.io/v1"
    assert created["level"] == "Metadata" and created["stage"] == "ResponseComplete"
    assert created["user"] == {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
    assert created["objectRef"] == {"resource": "configmaps", "namespace": "default", "name": "audited",
                                    "apiVersion": "v1"}
    assert created["responseStatus"]["code"] == 201
    assert created["requestURI"].startswith("/api/v1/namespaces/default/configmaps")
    assert created["userAgent"].startswith("kubectl/") and created["sourceIPs"] == ["127.0.0.1"]
    assert "requestObject" not in created and "responseObject" not in created     # Metadata only
    received = datetime.datetime.fromisoformat(created["requestReceivedTimestamp"].replace("Z", "+00:00"))
    completed = datetime.datetime.fromisoformat(created["stageTimestamp"].replace("Z", "+00:00"))
    assert before - datetime.timedelta(seconds=1) <= received <= completed
    assert len(created["auditID"]) == 36

    [deleted] = wait_for(log, verb="delete", objectRef={"name": "audited"})
    assert deleted["responseStatus"]["code"] == 200
    assert not events(log, verb="get") and not events(log, verb="list")     # reads are not written


def test_a_token_user_is_logged_with_its_groups(audited):
    server, log, _ = audited
    r = requests.post(server + "/api/v1/namespaces/default/configmaps", json={"metadata": {"generateName": "by-"}},
                      headers={"Authorization": f"Bearer {TOKEN}", "User-Agent": "audit-test"})
    assert r.status_code == 201
    [event] = wait_for(log, auditID=r.headers["Audit-Id"])
    assert event["user"] == {"username": "jane", "uid": "42",
                             "groups": ["system:masters", "auditors", "system:authenticated"]}
    assert event["objectRef"]["name"] == r.json()["metadata"]["name"]     # the name the server gave
    assert event["userAgent"] == "audit-test"


def test_a_refused_write_is_logged_without_a_user_and_carries_its_audit_id(audited):
    server, log, _ = audited
    r = requests.post(server + "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "nope"}},
                      headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    [refused] = wait_for(log, auditID=r.headers["Audit-Id"])
    assert refused["user"] == {} and refused["verb"] == "create"
    assert refused["responseStatus"] == {"metadata": {}, "code": 401, "status": "Failure",
                                         "message": "Unauthorized", "reason": "Unauthorized"}
    assert requests.get(server + "/api/v1/namespaces/default/configmaps/nope",
                        headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
