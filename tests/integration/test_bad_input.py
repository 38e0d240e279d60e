"""Bad requests get the Status kube-apiserver gives them, and nothing is stored.

Oversized bodies, deep nesting, bad UTF-8, bodies that are not JSON, unknown content
types, huge selectors, URLs and names, a body of another kind or namespace: each one a
4xx Status a client can read (never a 500), with the object absent afterwards.
"""
from __future__ import annotations

import pytest
import requests

JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024


@pytest.fixture
def cms(api_url, namespace):
    return f"{api_url}/api/v1/namespaces/{namespace}/configmaps"


def assert_status(r, code, reason):
    assert r.status_code == code, r.text[:500]
    body = r.json()
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", reason, code)
    return body["message"]


def assert_absent(url, name):
    assert requests.get(f"{url}/{name}").status_code == 404


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def pod(name, **extra):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}, **extra}


def test_a_body_over_3_mib_is_413(cms):
    body = b'{"metadata":{"name":"big"},"data":{"a":"' + b"x" * (3 * MIB) + b'"}}'
    assert_status(requests.post(cms, data=body, headers=JSON), 413, "RequestEntityTooLarge")
    chunked = (part for part in (body[:MIB], body[MIB:2 * MIB], body[2 * MIB:]))   # no Content-Length
    assert_status(requests.post(cms, data=chunked, headers=JSON), 413, "RequestEntityTooLarge")
    assert_absent(cms, "big")


def test_an_object_etcd_refuses_for_its_size_is_413(api_url, namespace):
    pods = f"{api_url}/api/v1/namespaces/{namespace}/pods"
    big = pod("huge")
    big["spec"]["containers"][0]["command"] = ["x" * (2 * MIB)]   # under 3 MiB, over etcd's 1.5 MiB
    assert_status(requests.post(pods, json=big), 413, "RequestEntityTooLarge")
    assert_absent(pods, "huge")


@pytest.mark.parametrize("depth", [150, 900, 1100])
def test_deep_nesting_is_400_wherever_it_is_sent(api_url, namespace, depth):
    pods = f"{api_url}/api/v1/namespaces/{namespace}/pods"
    requests.post(pods, json=pod("p")).raise_for_status()
    deep_pod = '{"metadata":{"name":"deep"},"spec":{"containers":[{"name":"c","image":"x"}],"x":%s}}' % nested(depth)
    assert_status(requests.post(pods, data=deep_pod, headers=JSON), 400, "BadRequest")
    assert_status(requests.post(pods + "?fieldValidation=Strict", data=deep_pod, headers=JSON), 400, "BadRequest")
    assert_absent(pods, "deep")
    patch = '{"metadata":{"labels":%s}}' % nested(depth)
    for ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        assert_status(requests.patch(pods + "/p", data=patch, headers={"Content-Type": ctype}), 400, "BadRequest")
    applied = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"applied"},"x":%s}' % nested(depth)
    assert_status(requests.patch(pods + "/applied?fieldManager=t", data=applied,
                                 headers={"Content-Type": "application/apply-patch+yaml"}), 400, "BadRequest")
    assert_absent(pods, "applied")
    assert "labels" not in requests.get(pods + "/p").json()["metadata"]


def test_a_yaml_alias_bomb_is_refused_quickly(cms):
    bomb = "".join(f"{k}: &{k} [{','.join([f'*{p}' if p else 'x'] * 9)}]\n"
                   for p, k in zip(["", *"abcdefg"], "abcdefgh"))
    r = requests.patch(cms + "/bomb?fieldManager=t", timeout=30,
                       data="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n" + bomb,
                       headers={"Content-Type": "application/apply-patch+yaml"})
    assert "excessive aliasing" in assert_status(r, 400, "BadRequest")
    assert_absent(cms, "bomb")


@pytest.mark.parametrize("body", [b'{"metadata":{"name":"u\xff\xfe"}}',
                                  b'{"metadata":{"name":"u1"},"data":{"a":"\xc3\x28"}}'])
def test_bad_utf8_is_400(cms, body):
    assert_status(requests.post(cms, data=body, headers=JSON), 400, "BadRequest")
    assert requests.get(cms).json()["items"] == []


@pytest.mark.parametrize("body", [b"hello world", b"[1, 2]", b"null", b'"a string"', b"", b'{"metadata":'])
def test_a_body_that_is_not_a_json_object_is_400(cms, body):
    assert_status(requests.post(cms, data=body, headers=JSON), 400, "BadRequest")
    assert requests.get(cms).json()["items"] == []


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "application/yaml",
                                   "application/merge-patch+json", "application/x-www-form-urlencoded"])
def test_an_unknown_content_type_is_415(cms, ctype):
    body = b'{"metadata":{"name":"typed"}}'
    assert_status(requests.post(cms, data=body, headers={"Content-Type": ctype}), 415, "UnsupportedMediaType")
    assert_absent(cms, "typed")
    requests.post(cms, json={"metadata": {"name": "typed"}}).raise_for_status()
    r = requests.patch(cms + "/typed", data=b'{"data":{"a":"b"}}', headers={"Content-Type": "text/plain"})
    assert_status(r, 415, "UnsupportedMediaType")
    assert "data" not in requests.get(cms + "/typed").json()


def test_huge_label_and_field_selectors(cms):
    requests.post(cms, json={"metadata": {"name": "one", "labels": {"k1": "v1"}}}).raise_for_status()
    many = ",".join(f"k{i}=v{i}" for i in range(5000))                # 60 KB, valid: matches nothing
    r = requests.get(cms, params={"labelSelector": many})
    assert r.status_code == 200 and r.json()["items"] == []
    r = requests.get(cms, params={"labelSelector": "k1 in (" + ",".join(f"v{i}" for i in range(5000)) + ")"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["one"]
    assert_status(requests.get(cms, params={"labelSelector": "k=" + "v" * 100}), 400, "BadRequest")
    assert_status(requests.get(cms, params={"labelSelector": "a," * 5000}), 400, "BadRequest")
    r = requests.get(cms, params={"fieldSelector": "metadata.name=" + "x" * 100000})
    assert r.status_code == 200 and r.json()["items"] == []
    # over the 1 MiB Go's http.Server reads of a request line and headers
    assert requests.get(cms, params={"labelSelector": "a=" + "x" * (MIB + 10)}).status_code == 414
    assert requests.get(cms, headers={"X-Big": "x" * (MIB + 10)}).status_code == 413


def test_a_limit_out_of_int64_range_is_400(cms):
    r = requests.get(cms, params={"limit": str(2 ** 70)})
    assert "value out of range" in assert_status(r, 400, "BadRequest")
    assert requests.get(cms, params={"limit": str(2 ** 62)}).status_code == 200


def test_bad_delete_options_are_400_and_a_huge_grace_period_is_kept(api_url, namespace):
    pods = f"{api_url}/api/v1/namespaces/{namespace}/pods"
    requests.post(pods, json={**pod("graceful"), "spec": {**pod("x")["spec"], "nodeName": "n1"}}).raise_for_status()
    for query, body in ((f"gracePeriodSeconds={2 ** 70}", None), ("", {"gracePeriodSeconds": 2 ** 64}),
                        ("", {"gracePeriodSeconds": "30"}), ("", {"preconditions": ["x"]}),
                        ("", {"propagationPolicy": ["Orphan"]})):
        r = requests.delete(f"{pods}/graceful?{query}", json=body)
        assert_status(r, 400, "BadRequest")
    assert "deletionTimestamp" not in requests.get(pods + "/graceful").json()["metadata"]
    r = requests.delete(f"{pods}/graceful", params={"gracePeriodSeconds": str(2 ** 62)})
    assert r.status_code == 200 and r.json()["metadata"]["deletionGracePeriodSeconds"] == 2 ** 62


def test_an_access_review_of_the_wrong_shape_is_400(api_url):
    url = api_url + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    for attrs in ({"resourceAttributes": ["pods"]}, {"nonResourceAttributes": "/healthz"},
                  {"resourceAttributes": {"verb": ["get"], "resource": "pods"}}):
        r = requests.post(url, json={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                     "spec": attrs})
        assert_status(r, 400, "BadRequest")


def test_huge_names(cms):
    assert_status(requests.get(cms + "/" + "a" * 100000), 404, "NotFound")
    r = requests.post(cms, json={"metadata": {"name": "a" * 300}})
    assert "must be no more than 253 characters" in assert_status(r, 422, "Invalid")
    assert requests.get(cms).json()["items"] == []


def test_a_body_of_another_kind_or_version_is_400(cms):
    r = requests.post(cms, json={"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "wk"}})
    assert "does not match the expected kind" in assert_status(r, 400, "BadRequest")
    r = requests.post(cms, json={"kind": "ConfigMap", "apiVersion": "apps/v1", "metadata": {"name": "wk"}})
    assert "does not match the expected API version" in assert_status(r, 400, "BadRequest")
    assert_absent(cms, "wk")


def test_a_namespace_or_name_mismatch_is_400(cms, namespace):
    r = requests.post(cms, json={"kind": "ConfigMap", "apiVersion": "v1",
                                 "metadata": {"name": "nm", "namespace": namespace + "-other"}})
    assert "does not match the namespace" in assert_status(r, 400, "BadRequest")
    assert_absent(cms, "nm")
    r = requests.put(cms + "/abc", json={"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "xyz"}})
    assert "does not match the name on the URL" in assert_status(r, 400, "BadRequest")
    assert_absent(cms, "abc")
    assert_absent(cms, "xyz")
