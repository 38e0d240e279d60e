"""The audit policy's rules and the Event each level writes (apiserver/audit.py)."""
from __future__ import annotations

import io
import json

import pytest

from minikube_py.apiserver.audit import DEFAULT_POLICY, Audit, AuditLog, Policy
from minikube_py.apiserver.auth.filters import AUTHENTICATED_USER, USER
from minikube_py.apiserver.auth.requestinfo import parse
from minikube_py.apiserver.auth.user import UserInfo

POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
        {"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/log", "secrets"],
                                                     "resourceNames": ["s1", "p1"]}]},
        {"level": "Request", "userGroups": ["developers"], "namespaces": ["dev"],
         "resources": [{"group": "apps", "resources": ["deployments", "*/scale"]}]},
        {"level": "Metadata", "resources": [{"group": "batch"}]},
        {"level": "Request", "verbs": ["create"], "omitStages": ["ResponseComplete"]},
    ]}
ALICE = UserInfo("alice", groups=("developers",))
PROXY = UserInfo("system:kube-proxy")


def level(method, path, user=ALICE, query=""):
    rule = Policy.from_dict(POLICY).rule_for(user, parse(path, method, query))
    return rule.level if rule else None


def test_the_first_matching_rule_decides():
    assert level("GET", "/api/v1/services", PROXY, "watch=1") == "None"
    assert level("GET", "/api/v1/services", PROXY) is None                    # no rule: None
    assert level("GET", "/healthz/etcd") == "None" and level("GET", "/version") == "None"
    assert level("GET", "/api/v1/namespaces/a/pods/p1/log") == "RequestResponse"
    assert level("GET", "/api/v1/namespaces/a/pods/p2/log") is None           # another name
    assert level("GET", "/api/v1/namespaces/a/secrets/s1") == "RequestResponse"
    assert level("PUT", "/apis/apps/v1/namespaces/dev/deployments/d") == "Request"
    assert level("PUT", "/apis/apps/v1/namespaces/dev/statefulsets/s/scale") == "Request"   # */scale
    assert level("PUT", "/apis/apps/v1/namespaces/prod/deployments/d") is None
    assert level("PUT", "/apis/apps/v1/namespaces/dev/deployments/d", PROXY) is None
    assert level("DELETE", "/apis/batch/v1/namespaces/x/jobs/j") == "Metadata"      # the whole group


def test_the_default_policy_keeps_writes_at_metadata():
    def default(method, path, query=""):
        rule = DEFAULT_POLICY.rule_for(ALICE, parse(path, method, query))
        return rule.level if rule else None
    assert default("POST", "/api/v1/namespaces/a/pods") == "Metadata"
    assert default("PATCH", "/api/v1/namespaces/a/pods/p") == "Metadata"
    assert default("DELETE", "/api/v1/namespaces/a/pods") == "Metadata"       # deletecollection
    assert default("GET", "/api/v1/pods") is None and default("GET", "/api/v1/pods", "watch=1") is None


@pytest.mark.parametrize("doc", [{"kind": "Policy", "apiVersion": "v1", "rules": [{"level": "None"}]},
                                 {"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "rules": [{"level": "All"}]},
                                 {"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "rules": []},
                                 {"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "rules": [
                                     {"level": "None", "nonResourceURLs": ["/x"], "namespaces": ["a"]}]}])
def test_a_bad_policy_is_refused(doc):
    with pytest.raises(ValueError):
        Policy.from_dict(doc)


def run(tmp, policy_doc, method, path, body=b"", user=ALICE, impersonator=None, query="dryRun=All"):
    """One request through Audit around an app that echoes the body it read; returns the Events."""
    out = tmp / f"audit-{len(list(tmp.iterdir()))}.log"
    audit_log = AuditLog(str(out), Policy.from_dict(policy_doc))

    def app(environ, start_response):
        environ[USER] = user
        if impersonator is not None:
            environ[AUTHENTICATED_USER] = impersonator
        sent = environ["wsgi.input"].read(len(body)) if body else b""
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b'{"kind":"ConfigMap","echo":', sent or b"null", b"}"]
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    headers = {}
    response = Audit(app, audit_log)(environ, lambda status, hs: headers.update(hs))
    assert b"".join(response).startswith(b'{"kind":"ConfigMap"')
    assert not out.read_text()             # nothing before the response is complete
    response.close()
    audit_log.close()
    assert out.stat().st_mode & 0o777 == 0o600
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(e["auditID"] == headers["Audit-Id"] for e in events)
    return events


def test_each_level_keeps_what_it_says(tmp_path):
    body = b'{"metadata":{"name":"cm"},"data":{"a":"b"}}'
    rule = lambda lvl: {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": lvl}]}  # noqa: E731
    assert run(tmp_path, rule("None"), "POST", "/api/v1/namespaces/a/configmaps", body) == []
    [meta] = run(tmp_path, rule("Metadata"), "POST", "/api/v1/namespaces/a/configmaps", body)
    assert meta["objectRef"] == {"resource": "configmaps", "namespace": "a", "name": "cm", "apiVersion": "v1"}
    assert meta["requestURI"] == "/api/v1/namespaces/a/configmaps?dryRun=All"
    assert meta["sourceIPs"] == ["1.2.3.4", "10.0.0.9"] and meta["responseStatus"] == {"metadata": {}, "code": 201}
    assert meta["user"] == {"username": "alice", "groups": ["developers"]}
    assert "requestObject" not in meta and "responseObject" not in meta
    [request] = run(tmp_path, rule("Request"), "POST", "/api/v1/namespaces/a/configmaps", body)
    assert request["requestObject"] == json.loads(body) and "responseObject" not in request
    [both] = run(tmp_path, rule("RequestResponse"), "POST", "/api/v1/namespaces/a/configmaps", body)
    assert both["requestObject"] == json.loads(body)
    assert both["responseObject"] == {"kind": "ConfigMap", "echo": json.loads(body)}
    [watch] = run(tmp_path, rule("RequestResponse"), "GET", "/api/v1/namespaces/a/configmaps", query="watch=1")
    assert watch["verb"] == "watch" and "responseObject" not in watch        # a stream is not kept
    [nonresource] = run(tmp_path, rule("Metadata"), "GET", "/healthz")
    assert nonresource["verb"] == "get" and "objectRef" not in nonresource
    assert run(tmp_path, {**rule("Metadata"), "omitStages": ["ResponseComplete"]}, "GET", "/healthz") == []


def test_an_impersonated_request_names_both_users(tmp_path):
    admin = UserInfo("admin", groups=("system:masters",))
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
              "rules": [{"level": "Metadata", "users": ["admin"]}]}     # the policy sees who asked
    [event] = run(tmp_path, policy, "DELETE", "/api/v1/namespaces/a/pods/p", impersonator=admin)
    assert event["user"] == {"username": "admin", "groups": ["system:masters"]}
    assert event["impersonatedUser"] == {"username": "alice", "groups": ["developers"]}
    assert "impersonatedUser" not in run(tmp_path, policy, "DELETE", "/api/v1/namespaces/a/pods/p", user=admin)[0]
