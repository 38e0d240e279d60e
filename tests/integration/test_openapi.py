"""OpenAPI with the real kubectl 1.32 and the official Python client: `kubectl explain`,
`kubectl apply --validate=strict|warn`, and the examples applying with default validation."""
from __future__ import annotations

import glob
import os

import requests
import yaml

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
# Examples of kinds a CRD declares need the CRD, as on a cluster `up` made (it installs these).
EXAMPLE_CRDS = [os.path.join(os.path.dirname(__file__), "..", "..", "minikube_py", "operators", "tfjob", "crd.yaml")]

BAD_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  replicas: 1
  foo: bar
  selector:
    matchLabels: {app: typo}
  template:
    metadata:
      labels: {app: typo}
    spec:
      containers:
      - name: c
        image: nginx
        imagee: nginx:1.25
"""

# resizePolicy: a field of Kubernetes' Container that our protobuf subset leaves out
UPSTREAM_ONLY_FIELD = """
apiVersion: v1
kind: Pod
metadata:
  name: resize
spec:
  containers:
  - name: c
    image: nginx
    resizePolicy:
    - resourceName: cpu
      restartPolicy: NotRequired
"""


def test_explain_deployment_strategy(kubectl):
    out = kubectl("explain", "deployment.spec.strategy").stdout
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "The deployment strategy to use to replace existing pods with new ones." in out
    assert "rollingUpdate\t<RollingUpdateDeployment>" in out and "type\t<string>" in out

    out = kubectl("explain", "deployment.spec.strategy", "--recursive").stdout
    assert "maxSurge\t<IntOrString>" in out and "maxUnavailable\t<IntOrString>" in out


def test_explain_pod_containers(kubectl):
    out = kubectl("explain", "pod.spec.containers").stdout
    assert "FIELD: containers <[]Container>" in out
    for field in ("image\t<string>", "env\t<[]EnvVar>", "ports\t<[]ContainerPort>", "resources\t<ResourceRequirements>"):
        assert field in out
    out = kubectl("explain", "cm").stdout
    assert "ConfigMap holds configuration data for pods to consume." in out


def test_apply_strict_refuses_unknown_fields(kubectl, namespace):
    r = kubectl("apply", "-n", namespace, "--validate=strict", "-f", "-", input=BAD_DEPLOYMENT, check=False)
    assert r.returncode == 1
    assert ('Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
            'handled as a Deployment: strict decoding error: unknown field "spec.foo", unknown field '
            '"spec.template.spec.containers[0].imagee"') in r.stderr
    # the default is strict too, and nothing was written
    assert kubectl("apply", "-n", namespace, "-f", "-", input=BAD_DEPLOYMENT, check=False).returncode == 1
    assert kubectl("get", "-n", namespace, "deploy", "typo", check=False).returncode == 1


def test_apply_strict_on_an_existing_object(kubectl, namespace):
    good = BAD_DEPLOYMENT.replace("  foo: bar\n", "").replace("        imagee: nginx:1.25\n", "")
    kubectl("apply", "-n", namespace, "-f", "-", input=good)
    r = kubectl("apply", "-n", namespace, "-f", "-", input=BAD_DEPLOYMENT.replace("replicas: 1", "replicas: 2"),
                check=False)
    assert r.returncode == 1 and "The request is invalid: patch: Invalid value:" in r.stderr
    assert 'strict decoding error: unknown field "spec.foo"' in r.stderr
    got = yaml.safe_load(kubectl("get", "-n", namespace, "deploy", "typo", "-o", "yaml").stdout)
    assert got["spec"]["replicas"] == 1


def test_apply_warn_warns_and_creates(kubectl, namespace):
    r = kubectl("apply", "-n", namespace, "--validate=warn", "-f", "-", input=BAD_DEPLOYMENT)
    assert "deployment.apps/typo created" in r.stdout
    assert 'Warning: unknown field "spec.foo"' in r.stderr
    assert 'Warning: unknown field "spec.template.spec.containers[0].imagee"' in r.stderr


def test_fields_the_subset_leaves_out_are_accepted(kubectl, namespace):
    assert "pod/resize created" in kubectl("apply", "-n", namespace, "-f", "-", input=UPSTREAM_ONLY_FIELD).stdout
    got = yaml.safe_load(kubectl("get", "-n", namespace, "pod", "resize", "-o", "yaml").stdout)
    assert got["spec"]["containers"][0]["resizePolicy"] == [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]


def test_every_example_applies_with_default_validation(kubectl, namespace):
    for crd in EXAMPLE_CRDS:
        kubectl("apply", "-f", crd)
        kubectl("wait", "--for=condition=Established", "-f", crd, "--timeout=30s")
    for path in sorted(glob.glob(os.path.join(EXAMPLES, "*.yaml"))):
        r = kubectl("apply", "-n", namespace, "-f", path, check=False)
        assert r.returncode == 0 and "Warning" not in r.stderr, (path, r.stderr)
        r = kubectl("apply", "-n", namespace, "-f", path)       # again: the PATCH path
        assert "unchanged" in r.stdout or "configured" in r.stdout, (path, r.stdout)


def test_a_v1_list_applies(kubectl, namespace):
    """A List has no schema of its own: kubectl validates it on the client, with /openapi/v2."""
    items = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "in-a-list"}, "data": {"a": "1"}}]}
    out = kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(items)).stdout
    assert "configmap/in-a-list created" in out


def test_duplicate_fields_and_warning_headers(api_url, namespace):
    body = (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},'
            b'"data":{"a":"1"},"data":{"b":"2"},"extra":1}')
    url = f"{api_url}/api/v1/namespaces/{namespace}/configmaps"
    r = requests.post(url + "?fieldValidation=Strict", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert r.json()["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
                                   'error: unknown field "extra", duplicate field "data"')
    r = requests.post(url + "?fieldValidation=Warn", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201
    assert r.headers["Warning"] == '299 - "unknown field \\"extra\\"", 299 - "duplicate field \\"data\\""'
    # JSON patch: the field it would add
    r = requests.patch(url + "/dup?fieldValidation=Strict", json=[{"op": "add", "path": "/metadata/labelz", "value": {}}],
                       headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 422 and 'unknown field "metadata.labelz"' in r.json()["message"]


def test_openapi_documents(api_url):
    index = requests.get(api_url + "/openapi/v3").json()["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"} <= set(index)
    doc = requests.get(api_url + index["apis/apps/v1"]["serverRelativeURL"]).json()
    deployment = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    v2 = requests.get(api_url + "/openapi/v2", headers={"Accept": "application/json"}).json()
    assert v2["swagger"] == "2.0" and "io.k8s.api.core.v1.Pod" in v2["definitions"]
    assert requests.get(api_url + "/openapi/v3/apis/nope/v1").status_code == 404


def test_python_client_still_works(cluster, namespace):
    from kubernetes import client, config
    config.load_kube_config(cluster.kubeconfig)
    with client.ApiClient() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "py"}, "data": {"k": "v"}})
        assert core.read_namespaced_config_map("py", namespace).data == {"k": "v"}
        apps = client.AppsV1Api(api)
        dep = yaml.safe_load(BAD_DEPLOYMENT.replace("  foo: bar\n", "").replace("        imagee: nginx:1.25\n", ""))
        apps.create_namespaced_deployment(namespace, dep)
        apps.patch_namespaced_deployment("typo", namespace, {"spec": {"replicas": 2}})
        assert apps.read_namespaced_deployment("typo", namespace).spec.replicas == 2
