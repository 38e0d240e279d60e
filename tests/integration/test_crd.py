"""CustomResourceDefinitions with the real kubectl and the official Python client.

The CRDs and objects are the Kubernetes docs' CronTab examples and the operator-sdk
Memcached operator's CRD, copied unchanged into examples/crds/.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
import requests
import yaml

from polling import wait_for

from minikube_py.storage.embedded import free_port

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "crds")
CRONTABS = "/apis/stable.example.com/v1/namespaces/{ns}/crontabs"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def example(name: str) -> str:
    return os.path.join(EXAMPLES, name)


def served(server: str, path: str = "/apis/stable.example.com/v1") -> bool:
    r = requests.get(server + path, timeout=5)
    return r.status_code == 200 and any(res["name"] == "crontabs" for res in r.json()["resources"])


@pytest.fixture
def crds(cluster):
    """Deletes, after the test, every CRD it made (and so every object of them)."""
    made = []
    yield made
    for name in made + ["crontabs.stable.example.com"]:
        requests.delete(f"{cluster.server}{CRD_PATH}/{name}", timeout=10)
    for name in made + ["crontabs.stable.example.com"]:
        wait_for(lambda: requests.get(f"{cluster.server}{CRD_PATH}/{name}").status_code == 404,
                 what=f"CRD {name} to go")


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def test_crontab_from_the_docs_is_served_at_once(kubectl, cluster, namespace, crds):
    assert kubectl("apply", "-f", example("crontab-crd.yaml")).stdout.strip() == \
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created"
    again = kubectl("apply", "-f", example("crontab-crd.yaml"))     # kubectl's patch needs its schema
    assert "unchanged" in again.stdout and "warning" not in again.stderr, again.stderr
    out = kubectl("apply", "-n", namespace, "-f", example("my-crontab.yaml")).stdout
    assert out.strip() == "crontab.stable.example.com/my-new-cron-object created"
    table = rows(kubectl("get", "crontab", "-n", namespace).stdout)
    assert table[0] == ["NAME", "AGE"] and table[1][0] == "my-new-cron-object"
    listed = yaml.safe_load(kubectl("get", "ct", "-n", namespace, "-o", "yaml").stdout)["items"]
    assert listed[0]["spec"] == {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image"}
    assert listed[0]["apiVersion"] == "stable.example.com/v1" and listed[0]["metadata"]["generation"] == 1
    resources = kubectl("api-resources", "--api-group=stable.example.com").stdout
    assert rows(resources)[1] == ["crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]
    assert rows(kubectl("get", "crd").stdout)[0] == ["NAME", "CREATED", "AT"]
    kubectl("wait", "--for=condition=established", "--timeout=30s", "crd/crontabs.stable.example.com")
    crd = json.loads(kubectl("get", "crd", "crontabs.stable.example.com", "-o", "json").stdout)
    assert crd["status"]["acceptedNames"]["kind"] == "CronTab"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]} == \
        {"NamesAccepted": "True", "Established": "True"}
    # custom objects live where kube-apiserver keeps them: under their group
    obj = requests.get(cluster.server + CRONTABS.format(ns=namespace) + "/my-new-cron-object").json()
    assert obj["kind"] == "CronTab"


def test_objects_failing_the_schema_get_422_with_field_causes(kubectl, cluster, namespace, crds):
    kubectl("apply", "-f", example("crontab-validation-crd.yaml"))
    bad = kubectl("apply", "-n", namespace, "-f", example("my-crontab-invalid.yaml"), check=False)
    assert bad.returncode != 0
    assert 'The CronTab "my-new-cron-object" is invalid' in bad.stderr
    assert "spec.cronSpec: Invalid value: \"* * * *\": spec.cronSpec in body should match " \
           "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'" in bad.stderr
    assert "spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10" \
        in bad.stderr
    r = requests.post(cluster.server + CRONTABS.format(ns=namespace), json={
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "typed"},
        "spec": {"replicas": "string", "cronSpec": "* * * * *"}})
    assert r.status_code == 422
    status = r.json()
    assert status["reason"] == "Invalid" and status["details"]["kind"] == "CronTab"
    assert status["details"]["causes"] == [{
        "type": "FieldValueTypeInvalid", "field": "spec.replicas",
        "message": 'Invalid value: "string": spec.replicas in body must be of type integer: "string"'}]
    assert kubectl("get", "ct", "-n", namespace, "-o", "name").stdout.strip() == ""     # nothing half-written


def test_defaults_are_applied_and_unknown_fields_pruned(kubectl, namespace, crds):
    kubectl("apply", "-f", example("crontab-defaulting-crd.yaml"))
    manifest = ('apiVersion: "stable.example.com/v1"\nkind: CronTab\nmetadata:\n  name: my-new-cron-object\n'
                "spec:\n  image: my-awesome-cron-image\n  someRandomField: 42\nsomeTopField: x\n")
    kubectl("create", "--validate=false", "-n", namespace, "-f", "-", input=manifest)
    obj = yaml.safe_load(kubectl("get", "ct", "my-new-cron-object", "-n", namespace, "-o", "yaml").stdout)
    assert obj["spec"] == {"cronSpec": "5 0 * * *", "image": "my-awesome-cron-image", "replicas": 1}
    assert "someTopField" not in obj


def test_printer_columns_show_in_kubectl_get(kubectl, namespace, crds):
    kubectl("apply", "-f", example("crontab-printer-columns-crd.yaml"))
    kubectl("apply", "-n", namespace, "-f", example("my-crontab.yaml"))
    kubectl("patch", "ct", "my-new-cron-object", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":1}}')
    out = kubectl("get", "crontab", "my-new-cron-object", "-n", namespace).stdout.splitlines()
    assert out[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert out[1].split()[:7] == ["my-new-cron-object", "*", "*", "*", "*", "*/5", "1"]


def test_status_and_scale_subresources(kubectl, cluster, namespace, crds):
    kubectl("apply", "-f", example("crontab-subresources-crd.yaml"))
    manifest = open(example("my-crontab.yaml")).read() + "  replicas: 3\n"     # the docs' object for this section
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    out = kubectl("scale", "--replicas=5", "crontabs/my-new-cron-object", "-n", namespace).stdout
    assert out.strip() == "crontab.stable.example.com/my-new-cron-object scaled"
    assert kubectl("get", "crontabs", "my-new-cron-object", "-n", namespace,
                   "-o", "jsonpath={.spec.replicas}").stdout == "5"
    kubectl("patch", "ct", "my-new-cron-object", "-n", namespace, "--subresource=status", "--type=merge",
            "-p", '{"status":{"replicas":5,"labelSelector":"app=cron","unknown":1}}')
    kubectl("patch", "ct", "my-new-cron-object", "-n", namespace, "--type=merge", "-p", '{"status":{"replicas":9}}')
    obj = json.loads(kubectl("get", "ct", "my-new-cron-object", "-n", namespace, "-o", "json").stdout)
    assert obj["status"] == {"replicas": 5, "labelSelector": "app=cron"}      # pruned; main resource ignores status
    assert obj["metadata"]["generation"] == 2                                 # the scale; status writes don't count
    scale = requests.get(cluster.server + CRONTABS.format(ns=namespace) + "/my-new-cron-object/scale").json()
    assert (scale["kind"], scale["spec"], scale["status"]) == \
        ("Scale", {"replicas": 5}, {"replicas": 5, "selector": "app=cron"})
    smp = kubectl("patch", "ct", "my-new-cron-object", "-n", namespace, "--type=strategic", "-p", "{}", check=False)
    assert "application/strategic-merge-patch+json is not supported" in smp.stderr


def test_kubectl_get_watch_streams_custom_objects(kubectl, cluster, namespace, crds, tmp_path):
    kubectl("apply", "-f", example("crontab-crd.yaml"))
    kubectl("apply", "-n", namespace, "-f", example("my-crontab.yaml"))
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
    watch = subprocess.Popen(["kubectl", "get", "ct", "-n", namespace, "-w", "--output-watch-events"],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert watch.stdout.readline().split()[:2] == ["EVENT", "NAME"]
        assert watch.stdout.readline().split()[:2] == ["ADDED", "my-new-cron-object"]
        kubectl("apply", "-n", namespace, "-f", "-", input=open(example("my-crontab.yaml")).read()
                .replace("my-new-cron-object", "second"))
        assert watch.stdout.readline().split()[:2] == ["ADDED", "second"]
        kubectl("delete", "ct", "second", "-n", namespace)
        assert watch.stdout.readline().split()[:2] == ["DELETED", "second"]
    finally:
        watch.kill()
        watch.wait()


def test_python_client_custom_objects_api(cluster, namespace, crds):
    from kubernetes import client, config, watch
    api_client = config.new_client_from_config(cluster.kubeconfig)
    ext = client.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(yaml.safe_load(open(example("crontab-validation-crd.yaml"))))
    api = client.CustomObjectsApi(api_client)
    args = ("stable.example.com", "v1", namespace, "crontabs")
    body = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "py"},
            "spec": {"cronSpec": "* * * * */5", "image": "img", "replicas": 2}}
    events, seen = [], threading.Event()
    rv = api.list_namespaced_custom_object(*args)["metadata"]["resourceVersion"]

    def follow():
        for ev in watch.Watch().stream(api.list_namespaced_custom_object, *args, resource_version=rv,
                                       timeout_seconds=20):
            events.append((ev["type"], ev["object"]["metadata"]["name"]))
            if ev["type"] == "DELETED":
                seen.set()
                return
    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    created = api.create_namespaced_custom_object(*args, body)
    assert created["metadata"]["uid"] and created["spec"]["replicas"] == 2
    got = api.get_namespaced_custom_object(*args, "py")
    got["spec"]["replicas"] = 3
    assert api.replace_namespaced_custom_object(*args, "py", got)["spec"]["replicas"] == 3
    assert api.patch_namespaced_custom_object(*args, "py", {"spec": {"image": "other"}})["spec"]["image"] == "other"
    with pytest.raises(client.ApiException) as bad:
        api.patch_namespaced_custom_object(*args, "py", {"spec": {"replicas": 11}})
    assert bad.value.status == 422
    assert [i["metadata"]["name"] for i in api.list_namespaced_custom_object(*args)["items"]] == ["py"]
    api.delete_namespaced_custom_object(*args, "py")
    assert seen.wait(20)
    assert events == [("ADDED", "py"), ("MODIFIED", "py"), ("MODIFIED", "py"), ("DELETED", "py")]


def test_deleting_the_crd_deletes_its_objects_then_the_kind(kubectl, cluster, namespace, crds):
    kubectl("apply", "-f", example("crontab-crd.yaml"))
    kubectl("apply", "-n", namespace, "-f", example("my-crontab.yaml"))
    held = open(example("my-crontab.yaml")).read().replace("name: my-new-cron-object",
                                                            "name: held\n  finalizers:\n  - stable.example.com/finalizer")
    kubectl("apply", "-n", namespace, "-f", "-", input=held)
    kubectl("delete", "crd", "crontabs.stable.example.com", "--wait=false")
    crd_url = f"{cluster.server}{CRD_PATH}/crontabs.stable.example.com"
    crd = requests.get(crd_url).json()
    assert crd["metadata"]["deletionTimestamp"]
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    url = cluster.server + CRONTABS.format(ns=namespace)
    wait_for(lambda: [i["metadata"]["name"] for i in requests.get(url).json()["items"]] == ["held"],
             what="the objects without finalizers to go")
    refused = requests.post(url, json={"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                                       "metadata": {"name": "late"}})
    assert refused.status_code == 405
    assert refused.json()["message"] == "create not allowed while custom resource definition is terminating"
    crd = requests.get(crd_url).json()                         # held back by the object's finalizer
    assert {c["type"]: c["reason"] for c in crd["status"]["conditions"]}["Terminating"] == \
        "InstanceDeletionInProgress"
    kubectl("patch", "ct", "held", "-n", namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: requests.get(crd_url).status_code == 404, what="the CRD to go")
    assert requests.get(url).status_code == 404
    gone = kubectl("get", "crontabs", "-n", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert "crontabs" not in kubectl("api-resources").stdout
    kubectl("apply", "-f", example("crontab-crd.yaml"))       # made again, it starts out empty
    assert kubectl("get", "ct", "-n", namespace, "-o", "name").stdout.strip() == ""


@pytest.mark.parametrize("change, field, message", [
    (lambda c: c["metadata"].update(name="crontab.stable.example.com"), "metadata.name",
     'Invalid value: "crontab.stable.example.com": must be spec.names.plural+"."+spec.group'),
    (lambda c: c["spec"]["versions"][0].pop("schema"), "spec.versions[0].schema.openAPIV3Schema",
     "Required value: schemas are required"),
    (lambda c: c["spec"]["versions"].append({**c["spec"]["versions"][0], "name": "v2"}), "spec.versions",
     'Invalid value: ["v1","v2"]: must have exactly one version marked as storage version'),
    (lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].pop("type"),
     "spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
     "Required value: must not be empty for specified object fields"),
    (lambda c: c["spec"].update(scope="Global"), "spec.scope",
     'Unsupported value: "Global": supported values: "Cluster", "Namespaced"'),
    (lambda c: c["spec"]["names"].update(kind="Cron_Tab"), "spec.names.kind",
     'Invalid value: "Cron_Tab": may have mixed case, but should otherwise match: a DNS-1035 label must'),
])
def test_invalid_crds_are_refused_with_field_causes(cluster, crds, change, field, message):
    crd = yaml.safe_load(open(example("crontab-crd.yaml")))
    change(crd)
    r = requests.post(cluster.server + CRD_PATH, json=crd)
    assert r.status_code == 422, r.text
    causes = r.json()["details"]["causes"]
    assert any(c["field"] == field and c["message"].startswith(message) for c in causes), causes
    assert not served(cluster.server)


def test_a_name_taken_in_the_group_is_not_accepted(cluster, crds):
    first = yaml.safe_load(open(example("crontab-crd.yaml")))
    assert requests.post(cluster.server + CRD_PATH, json=first).status_code == 201
    second = yaml.safe_load(open(example("crontab-crd.yaml")))
    second["metadata"]["name"] = "crontables.stable.example.com"
    second["spec"]["names"].update(plural="crontables", singular="crontable", shortNames=[])
    assert requests.post(cluster.server + CRD_PATH, json=second).status_code == 201
    crds.append("crontables.stable.example.com")

    def conditions():
        st = requests.get(f"{cluster.server}{CRD_PATH}/crontables.stable.example.com").json()["status"]
        return {c["type"]: (c["status"], c["reason"]) for c in st["conditions"]}
    assert wait_for(lambda: conditions().get("Established"), what="conditions") and conditions() == {
        "NamesAccepted": ("False", "KindConflict"), "Established": ("False", "NotAccepted")}
    assert requests.get(cluster.server + "/apis/stable.example.com/v1/crontables").status_code == 404


def test_a_real_operator_crd_and_its_sample_apply_unchanged(kubectl, cluster, namespace, crds):
    kubectl("apply", "-f", example("memcached-crd.yaml"))
    crds.append("memcacheds.cache.example.com")
    assert kubectl("apply", "-n", namespace, "-f", example("memcached-sample.yaml")).stdout.strip() == \
        "memcached.cache.example.com/memcached-sample created"
    too_big = kubectl("patch", "memcached", "memcached-sample", "-n", namespace, "--type=merge",
                      "-p", '{"spec":{"size":5}}', check=False)
    assert "spec.size: Invalid value: 5: spec.size in body should be less than or equal to 3" in too_big.stderr
    bad_status = kubectl("patch", "memcached", "memcached-sample", "-n", namespace, "--subresource=status",
                         "--type=merge", "-p", json.dumps({"status": {"conditions": [{
                             "type": "Available", "status": "Maybe", "reason": "Reconciling",
                             "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}), check=False)
    assert 'status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", ' \
           '"Unknown"' in bad_status.stderr
    kubectl("patch", "memcached", "memcached-sample", "-n", namespace, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": {"conditions": [{
                "type": "Available", "status": "True", "reason": "Reconciling", "message": "ok",
                "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}))
    obj = json.loads(kubectl("get", "memcached", "memcached-sample", "-n", namespace, "-o", "json").stdout)
    assert obj["spec"] == {"size": 1, "containerPort": 11211}
    assert obj["status"]["conditions"][0]["status"] == "True"


def _apiserver(cluster, port):
    log = open(os.path.join(cluster.dir, f"apiserver-{port}.log"), "ab")
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", "apiserver", "--etcd-servers",
                             cluster.etcd_url, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    server = f"http://127.0.0.1:{port}"

    def ready():
        assert proc.poll() is None
        try:
            return requests.get(server + "/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    wait_for(ready, timeout=30, what="the second apiserver")
    return proc, server


def test_every_apiserver_on_the_etcd_serves_a_crd_made_through_another(cluster, namespace, crds):
    other, other_server = _apiserver(cluster, free_port())
    later = None
    try:
        crd = yaml.safe_load(open(example("crontab-crd.yaml")))
        assert requests.post(cluster.server + CRD_PATH, json=crd).status_code == 201
        wait_for(lambda: served(other_server), what="the other apiserver to serve crontabs")
        obj = yaml.safe_load(open(example("my-crontab.yaml")))
        r = requests.post(other_server + CRONTABS.format(ns=namespace), json=obj)
        assert r.status_code == 201, r.text
        assert requests.get(cluster.server + CRONTABS.format(ns=namespace) + "/my-new-cron-object").status_code == 200
        later, later_server = _apiserver(cluster, free_port())       # one started afterwards serves it at once
        assert served(later_server)
        assert [i["metadata"]["name"] for i in
                requests.get(later_server + CRONTABS.format(ns=namespace)).json()["items"]] == ["my-new-cron-object"]
        requests.delete(f"{cluster.server}{CRD_PATH}/crontabs.stable.example.com")
        wait_for(lambda: not served(other_server) and not served(later_server), what="the kind to go everywhere")
    finally:
        for proc in (other, later):
            if proc is not None:
                proc.terminate()
                proc.wait(10)


def test_deleting_a_namespace_deletes_its_custom_objects(kubectl, cluster, controller_manager, crds):
    controller_manager(["namespace"])
    kubectl("apply", "-f", example("crontab-crd.yaml"))
    kubectl("create", "namespace", "crons")
    kubectl("apply", "-n", "crons", "-f", example("my-crontab.yaml"))
    kubectl("delete", "namespace", "crons", "--timeout=60s")
    assert requests.get(cluster.server + CRONTABS.format(ns="crons")).json()["items"] == []
