"""Server-side apply with the real kubectl 1.32: `kubectl apply --server-side`,
managedFields, conflicts and `--force-conflicts` (apiserver/fieldmanager.py)."""
from __future__ import annotations

import os

import requests
import yaml

NGINX = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "nginx-deployment.yaml")


def manifest(**changes) -> dict:
    with open(NGINX) as f:
        doc = yaml.safe_load(f)
    doc["spec"].update(changes)
    return doc


def ssa(kubectl, namespace, doc, *flags, check=True):
    return kubectl("apply", "--server-side", "-n", namespace, *flags, "-f", "-", input=yaml.safe_dump(doc),
                   check=check)


def get(kubectl, namespace, kind="deploy", name="nginx"):
    return yaml.safe_load(kubectl("get", "-n", namespace, kind, name, "-o", "yaml",
                                  "--show-managed-fields").stdout)


def entries(obj):
    return {(e["manager"], e["operation"], e.get("subresource", "")): e for e in obj["metadata"]["managedFields"]}


def test_apply_creates_then_reapply_removes_a_dropped_field(kubectl, namespace):
    out = kubectl("apply", "--server-side", "-n", namespace, "-f", NGINX).stdout
    assert out.strip() == "deployment.apps/nginx serverside-applied"
    obj = get(kubectl, namespace)
    e = entries(obj)[("kubectl", "Apply", "")]
    assert e["apiVersion"] == "apps/v1" and e["fieldsType"] == "FieldsV1" and e["time"].endswith("Z")
    container = e["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container["f:ports"] == {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"      # defaults apply as on create

    # `kubectl get -o yaml` hides them unless asked
    plain = yaml.safe_load(kubectl("get", "-n", namespace, "deploy", "nginx", "-o", "yaml").stdout)
    assert "managedFields" not in plain["metadata"]

    # re-applying the same manifest changes nothing, not even the resourceVersion
    rv = obj["metadata"]["resourceVersion"]
    kubectl("apply", "--server-side", "-n", namespace, "-f", NGINX)
    assert get(kubectl, namespace)["metadata"]["resourceVersion"] == rv

    # a label and the replicas dropped from the manifest: the label goes, replicas is defaulted
    doc = manifest()
    del doc["metadata"]["labels"], doc["spec"]["replicas"]
    ssa(kubectl, namespace, doc)
    obj = get(kubectl, namespace)
    assert "labels" not in obj["metadata"] and obj["spec"]["replicas"] == 1
    assert "f:labels" not in entries(obj)[("kubectl", "Apply", "")]["fieldsV1"].get("f:metadata", {})


def test_scale_then_reapply_conflicts_and_force_conflicts_wins(kubectl, namespace):
    kubectl("apply", "--server-side", "-n", namespace, "-f", NGINX)
    kubectl("scale", "-n", namespace, "deploy/nginx", "--replicas=5")
    scale_entry = entries(get(kubectl, namespace))[("kubectl", "Update", "scale")]
    assert scale_entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}

    r = kubectl("apply", "--server-side", "-n", namespace, "-f", NGINX, check=False)
    assert r.returncode == 1
    assert ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: '
            ".spec.replicas") in r.stderr
    assert get(kubectl, namespace)["spec"]["replicas"] == 5

    # --dry-run=server says what would happen and changes nothing
    out = kubectl("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-n", namespace,
                  "-f", NGINX).stdout
    assert "serverside-applied (server dry run)" in out
    assert get(kubectl, namespace)["spec"]["replicas"] == 5

    kubectl("apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", NGINX)
    obj = get(kubectl, namespace)
    assert obj["spec"]["replicas"] == 3
    assert set(entries(obj)) == {("kubectl", "Apply", "")}     # the scale entry owned nothing more


def test_client_side_apply_on_an_applied_object_is_an_update_that_conflicts(kubectl, namespace):
    kubectl("apply", "--server-side", "-n", namespace, "-f", NGINX)
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest(replicas=4)))
    assert ("kubectl-client-side-apply", "Update", "") in entries(get(kubectl, namespace))
    r = ssa(kubectl, namespace, manifest(), check=False)
    assert 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: ' \
           ".spec.replicas" in r.stderr


def test_object_created_without_apply_conflicts_with_before_first_apply(kubectl, namespace):
    kubectl("create", "-n", namespace, "deployment", "nginx", "--image=nginx:1.14.2", "--replicas=1")
    doc = manifest(selector={"matchLabels": {"app": "nginx"}})
    doc["spec"]["template"]["metadata"]["labels"] = {"app": "nginx"}
    r = ssa(kubectl, namespace, doc, check=False)
    assert 'conflict with "before-first-apply" using apps/v1' in r.stderr and ".spec.replicas" in r.stderr
    ssa(kubectl, namespace, doc, "--force-conflicts")
    assert get(kubectl, namespace)["spec"]["replicas"] == 3


def test_two_managers_share_fields_and_each_keeps_its_own(kubectl, namespace):
    def cm(manager, data, check=True):
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": data}
        return ssa(kubectl, namespace, doc, f"--field-manager={manager}", check=check)

    cm("team-a", {"a": "1", "common": "x"})
    cm("team-b", {"b": "2", "common": "x"})          # same value: shared, no conflict
    obj = get(kubectl, namespace, "configmap", "shared")
    assert obj["data"] == {"a": "1", "b": "2", "common": "x"}
    assert entries(obj)[("team-a", "Apply", "")]["fieldsV1"] == {"f:data": {"f:a": {}, "f:common": {}}}
    assert entries(obj)[("team-b", "Apply", "")]["fieldsV1"] == {"f:data": {"f:b": {}, "f:common": {}}}

    r = cm("team-b", {"b": "2", "common": "y"}, check=False)
    assert 'Apply failed with 1 conflict: conflict with "team-a": .data.common' in r.stderr

    cm("team-a", {"a": "1"})                          # team-a gives `common` up; team-b still owns it
    assert get(kubectl, namespace, "configmap", "shared")["data"] == {"a": "1", "b": "2", "common": "x"}
    cm("team-b", {"b": "2"})                          # now nobody owns it: it goes
    assert get(kubectl, namespace, "configmap", "shared")["data"] == {"a": "1", "b": "2"}


def test_list_map_merge_two_managers_own_different_containers(kubectl, namespace):
    kubectl("apply", "--server-side", "-n", namespace, "-f", NGINX)
    sidecar = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "labels": {"mesh": "on"}},
               "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:1.30",
                                                              "env": [{"name": "MODE", "value": "sidecar"}]}]}}}}
    ssa(kubectl, namespace, sidecar, "--field-manager=mesh")
    obj = get(kubectl, namespace)
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["nginx", "proxy"]
    assert obj["metadata"]["labels"] == {"app": "nginx", "mesh": "on"}
    mesh = entries(obj)[("mesh", "Apply", "")]["fieldsV1"]
    assert list(mesh["f:spec"]["f:template"]["f:spec"]["f:containers"]) == ['k:{"name":"proxy"}']

    # kubectl re-applies its manifest (no proxy container in it): the proxy stays, it is mesh's
    doc = manifest()
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.16.1"
    ssa(kubectl, namespace, doc)
    containers = get(kubectl, namespace)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:1.16.1"), ("proxy", "envoy:1.30")]

    # mesh gives its container and label up: both go, kubectl's are untouched
    ssa(kubectl, namespace, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}},
        "--field-manager=mesh")
    obj = get(kubectl, namespace)
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert obj["metadata"]["labels"] == {"app": "nginx"}


def test_apply_protocol_errors(api_url, namespace):
    url = f"{api_url}/api/v1/namespaces/{namespace}/configmaps/x"
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: v\n"
    r = requests.patch(url, data=body, headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 422 and r.json()["message"] == \
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    r = requests.patch(url + "?fieldManager=me", data=body, headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 201 and r.json()["metadata"]["managedFields"][0]["manager"] == "me"
    r = requests.patch(url + "?force=true", json={"data": {"k": "w"}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and "force: Forbidden: may not be specified for non-apply patch" in r.json()["message"]
    with_managed = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  managedFields: []\n"
    r = requests.patch(url + "?fieldManager=me", data=with_managed,
                       headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 400 and r.json()["message"] == "metadata.managedFields must be nil"


def test_official_python_client_applies(cluster, namespace):
    """The client's DynamicClient.server_side_apply (its typed APIs stopped taking a
    content type in kubernetes 35; this one sends application/apply-patch+yaml itself)."""
    from kubernetes import client, config, dynamic
    dyn = dynamic.DynamicClient(config.new_client_from_config(cluster.kubeconfig))
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "py"}, "data": {"k": "v"}}
    made = configmaps.server_side_apply(body=body, namespace=namespace, field_manager="py-app")
    assert made.data.to_dict() == {"k": "v"} and made.metadata.managedFields[0].manager == "py-app"
    assert made.metadata.managedFields[0].operation == "Apply"
    body["data"] = {"k": "w"}
    try:
        configmaps.server_side_apply(body=body, namespace=namespace, field_manager="other")
        raise AssertionError("expected a conflict")
    except client.ApiException as err:
        body_text = err.body.decode() if isinstance(err.body, bytes) else err.body
        assert err.status == 409 and 'conflict with \\"py-app\\": .data.k' in body_text
    forced = configmaps.server_side_apply(body=body, namespace=namespace, field_manager="other",
                                          force_conflicts=True)
    assert forced.data.to_dict() == {"k": "w"}
    assert [m.manager for m in forced.metadata.managedFields] == ["other"]


def test_apply_is_refused_on_subresources(kubectl, api_url, namespace):
    kubectl("apply", "--server-side", "-n", namespace, "-f", NGINX)
    r = requests.patch(f"{api_url}/apis/apps/v1/namespaces/{namespace}/deployments/nginx/scale?fieldManager=me",
                       data='{"spec": {"replicas": 1}}', headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 405 and r.json()["reason"] == "MethodNotAllowed"
