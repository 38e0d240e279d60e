import copy

import pytest

from minikube_py.api.kinds import apply_defaults, validate, validate_update
from minikube_py.api.kinds.core import NAMESPACE
from minikube_py.api.names import is_dns1035_label
from minikube_py.api.validation import validate_labels, validate_name

SUBDOMAIN_MSG = ("Invalid value: \"Foo_Bar\": a lowercase RFC 1123 subdomain must consist of lower "
                 "case alphanumeric characters, '-' or '.', and must start and end with an "
                 "alphanumeric character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("Invalid value: \"Blue_Zone\": a lowercase RFC 1123 label must consist of lower case "
             "alphanumeric characters or '-', and must start and end with an alphanumeric "
             "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def fields(causes):
    return [(c["field"], c["type"]) for c in causes]


def pod(**spec):
    containers = spec.pop("containers", [{"name": "web", "image": "nginx"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": containers, **spec}}


def deployment(**overrides):
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": "default"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    d["spec"].update(overrides)
    return d


# ---------------------------------------------------------------- names and labels

def test_validate_name_messages_are_kubernetes_words():
    assert validate_name("Foo_Bar") == [
        {"type": "FieldValueInvalid", "message": SUBDOMAIN_MSG, "field": "metadata.name"}]
    assert validate_name("Blue_Zone", NAMESPACE.name_rule)[0]["message"] == LABEL_MSG
    assert validate_name("web.example.com") == []
    assert validate_name("my-ns", NAMESPACE.name_rule) == []


def test_validate_name_lengths_and_required():
    assert validate_name("a" * 253) == []
    assert "must be no more than 253 characters" in validate_name("a" * 254)[0]["message"]
    assert validate_name("a" * 63, NAMESPACE.name_rule) == []
    assert "must be no more than 63 characters" in validate_name("a" * 64, NAMESPACE.name_rule)[0]["message"]
    assert validate_name("a.b", NAMESPACE.name_rule)[0]["type"] == "FieldValueInvalid"
    assert fields(validate_name("")) == [("metadata.name", "FieldValueRequired")]
    assert validate_name(None)[0]["message"] == "Required value: name or generateName is required"
    assert validate_name("1abc", is_dns1035_label) and not validate_name("abc-1", is_dns1035_label)


def test_validate_labels():
    assert validate_labels({"app": "web", "example.com/tier": "front", "empty": ""}, "metadata.labels") == []
    causes = validate_labels({"bad key": "v", "k": "bad value", "a/b/c": "x",
                              "-x": "1", "ok": "v" * 64}, "metadata.labels")
    assert len(causes) == 5 and all(c["field"] == "metadata.labels" for c in causes)
    assert any("name part must consist of alphanumeric characters" in c["message"] for c in causes)
    assert any("a valid label must be an empty string" in c["message"] for c in causes)
    assert any("with an optional DNS subdomain prefix" in c["message"] for c in causes)
    assert validate_labels(None, "metadata.labels") == []
    assert fields(validate_labels({"a": 1}, "spec.nodeSelector")) == [("spec.nodeSelector", "FieldValueInvalid")]


def test_unknown_kind_is_valid():
    assert validate("Widget", {"metadata": {"name": "NOT_VALID"}}) == []


# ---------------------------------------------------------------- namespaces, nodes, events, leases

def test_namespace():
    assert validate("Namespace", {"metadata": {"name": "team-a"}}) == []
    assert fields(validate("Namespace", {"metadata": {"name": "Team_A"}})) == [
        ("metadata.name", "FieldValueInvalid")]


def test_node():
    node = {"metadata": {"name": "node-1.example"},
            "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "2"}}}
    assert validate("Node", node) == []
    node["spec"]["taints"].append({"key": "x", "effect": "Never"})
    node["status"]["allocatable"] = {"cpu": "-1", "memory": "lots"}
    assert fields(validate("Node", node)) == [
        ("spec.taints[1].effect", "FieldValueNotSupported"),
        ("status.allocatable[cpu]", "FieldValueInvalid"),
        ("status.allocatable[memory]", "FieldValueInvalid")]


def test_event():
    event = {"metadata": {"name": "web.17a8", "namespace": "default"}, "type": "Normal",
             "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}}
    assert validate("Event", event) == []
    event["involvedObject"]["namespace"] = "other"
    event["type"] = "Bad"
    causes = validate("Event", event)
    assert fields(causes) == [("involvedObject.namespace", "FieldValueInvalid"),
                              ("type", "FieldValueNotSupported")]
    assert causes[0]["message"] == 'Invalid value: "other": does not match event.namespace'


def test_lease():
    lease = {"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}
    assert validate("Lease", lease) == []
    lease["spec"].update(leaseDurationSeconds=0, leaseTransitions=-1)
    assert fields(validate("Lease", lease)) == [("spec.leaseDurationSeconds", "FieldValueInvalid"),
                                                ("spec.leaseTransitions", "FieldValueInvalid")]


# ---------------------------------------------------------------- pods

def test_valid_pod_and_defaulted_pod():
    p = pod(containers=[{"name": "web", "image": "nginx:1.25",
                         "ports": [{"containerPort": 80}],
                         "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                       "limits": {"cpu": "1", "memory": "128Mi",
                                                  "nvidia.com/gpu": "1"}}}])
    assert validate("Pod", p) == []
    assert validate("Pod", apply_defaults("Pod", copy.deepcopy(p))) == []


def test_pod_requires_containers_and_images():
    assert fields(validate("Pod", pod(containers=[]))) == [("spec.containers", "FieldValueRequired")]
    assert fields(validate("Pod", {"metadata": {"name": "x"}})) == [("spec", "FieldValueRequired")]
    causes = validate("Pod", pod(containers=[{"name": "web"}, {"image": "x"}]))
    assert fields(causes) == [("spec.containers[0].image", "FieldValueRequired"),
                              ("spec.containers[1].name", "FieldValueRequired")]
    assert causes[0]["message"] == "Required value"


def test_pod_container_names():
    causes = validate("Pod", pod(containers=[{"name": "Web_1", "image": "x"},
                                             {"name": "a", "image": "x"},
                                             {"name": "a", "image": "y"}],
                                 initContainers=[{"name": "web", "image": "x"}]))
    assert fields(causes) == [("spec.containers[0].name", "FieldValueInvalid"),
                              ("spec.containers[2].name", "FieldValueDuplicate")]
    assert causes[1]["message"] == 'Duplicate value: "a"'


def test_pod_resources():
    def res(**resources):
        return validate("Pod", pod(containers=[{"name": "c", "image": "x", "resources": resources}]))

    assert res(requests={"cpu": "abc"})[0]["message"].startswith(
        "Invalid value: \"abc\": quantities must match the regular expression")
    assert fields(res(requests={"cpu": "-1"})) == [
        ("spec.containers[0].resources.requests[cpu]", "FieldValueInvalid")]
    over = res(requests={"cpu": "2"}, limits={"cpu": "1"})
    assert fields(over) == [("spec.containers[0].resources.requests", "FieldValueInvalid")]
    assert over[0]["message"] == 'Invalid value: "2": must be less than or equal to cpu limit of 1'
    assert res(requests={"memory": "1Gi"}, limits={"memory": "1Gi"}) == []
    assert res(requests={"cpu": "500m"}) == []
    # extended resources: whole numbers, request == limit, limit required
    assert res(limits={"nvidia.com/gpu": "2"}) == []
    assert res(requests={"nvidia.com/gpu": 1}, limits={"nvidia.com/gpu": 1}) == []
    assert "must be an integer" in res(limits={"nvidia.com/gpu": "0.5"})[0]["message"]
    assert "must be equal to nvidia.com/gpu limit of 2" in \
        res(requests={"nvidia.com/gpu": "1"}, limits={"nvidia.com/gpu": "2"})[0]["message"]
    assert fields(res(requests={"nvidia.com/gpu": "1"})) == [
        ("spec.containers[0].resources.limits", "FieldValueRequired")]
    assert "must be a standard resource" in res(limits={"gpu": "1"})[0]["message"]


def test_pod_policies_ports_volumes():
    causes = validate("Pod", pod(
        restartPolicy="Sometimes", dnsPolicy="Magic", activeDeadlineSeconds=0,
        volumes=[{"name": "data"}, {"name": "data"}],
        containers=[{"name": "c", "image": "x", "imagePullPolicy": "Maybe",
                     "ports": [{"containerPort": 70000, "protocol": "ICMP"}],
                     "volumeMounts": [{"name": "data", "mountPath": "/d"},
                                      {"name": "nope", "mountPath": "/n"}]}],
        tolerations=[{"key": "a", "operator": "Exists", "value": "x"}, {"operator": "Equal"}]))
    assert fields(causes) == [
        ("spec.volumes[1].name", "FieldValueDuplicate"),
        ("spec.containers[0].imagePullPolicy", "FieldValueNotSupported"),
        ("spec.containers[0].ports[0].containerPort", "FieldValueInvalid"),
        ("spec.containers[0].ports[0].protocol", "FieldValueNotSupported"),
        ("spec.containers[0].volumeMounts[1].name", "FieldValueNotFound"),
        ("spec.restartPolicy", "FieldValueNotSupported"),
        ("spec.dnsPolicy", "FieldValueNotSupported"),
        ("spec.activeDeadlineSeconds", "FieldValueInvalid"),
        ("spec.tolerations[0].operator", "FieldValueInvalid"),
        ("spec.tolerations[1].operator", "FieldValueInvalid"),
    ]
    restart = [c for c in causes if c["field"] == "spec.restartPolicy"][0]
    assert restart["message"] == ('Unsupported value: "Sometimes": supported values: '
                                  '"Always", "OnFailure", "Never"')


# ---------------------------------------------------------------- deployments and replica sets

@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_replicated_valid(kind):
    obj = deployment()
    assert validate(kind, obj) == []
    assert validate(kind, apply_defaults(kind, obj)) == []


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_replicated_errors(kind):
    assert fields(validate(kind, deployment(replicas=-1))) == [("spec.replicas", "FieldValueInvalid")]
    assert validate(kind, deployment(replicas=-1))[0]["message"] == \
        "Invalid value: -1: must be greater than or equal to 0"
    no_sel = deployment()
    del no_sel["spec"]["selector"]
    assert fields(validate(kind, no_sel)) == [("spec.selector", "FieldValueRequired")]
    empty = validate(kind, deployment(selector={}))
    assert fields(empty) == [("spec.selector", "FieldValueInvalid")]
    assert "empty selector is invalid for deployment" in empty[0]["message"]
    mismatch = validate(kind, deployment(selector={"matchLabels": {"app": "db"}}))
    assert fields(mismatch) == [("spec.template.metadata.labels", "FieldValueInvalid")]
    assert mismatch[0]["message"].endswith("`selector` does not match template `labels`")
    bad_op = validate(kind, deployment(selector={"matchExpressions": [{"key": "a", "operator": "Is"}]}))
    assert fields(bad_op) == [("spec.selector", "FieldValueInvalid")]


def test_replicated_template_pod_spec_prefix():
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["name"] = "Bad_Name"
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    d["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    assert fields(validate("Deployment", d)) == [
        ("spec.template.spec.containers[0].name", "FieldValueInvalid"),
        ("spec.template.spec.restartPolicy", "FieldValueNotSupported"),
        ("spec.template.spec.activeDeadlineSeconds", "FieldValueForbidden")]


def test_deployment_strategy():
    def strategy(**s):
        return fields(validate("Deployment", deployment(strategy=s)))

    assert strategy(type="Recreate") == []
    assert strategy(type="Sideways") == [("spec.strategy.type", "FieldValueNotSupported")]
    assert strategy(type="Recreate", rollingUpdate={}) == [
        ("spec.strategy.rollingUpdate", "FieldValueForbidden")]
    assert strategy(type="RollingUpdate", rollingUpdate={"maxSurge": 0, "maxUnavailable": 0}) == [
        ("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid")]
    assert strategy(rollingUpdate={"maxSurge": "x%", "maxUnavailable": "150%"}) == [
        ("spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid"),
        ("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid")]
    assert strategy(rollingUpdate={"maxSurge": 1, "maxUnavailable": "0%"}) == []


# ---------------------------------------------------------------- updates

def test_update_selector_immutable():
    old = deployment()
    new = deployment(selector={"matchLabels": {"app": "web", "v": "2"}})
    causes = validate_update("Deployment", old, new)
    assert fields(causes) == [("spec.selector", "FieldValueInvalid")]
    assert causes[0]["message"].endswith("field is immutable")
    assert validate_update("ReplicaSet", old, deployment(replicas=7)) == []
    same = deployment(selector={"matchLabels": {"app": "web"}, "matchExpressions": []})
    assert validate_update("Deployment", old, same) == []


def test_update_metadata_immutable():
    old, new = deployment(), deployment()
    new["metadata"]["name"] = "other"
    assert fields(validate_update("Deployment", old, new)) == [("metadata.name", "FieldValueInvalid")]


def test_pod_update_rules():
    old = apply_defaults("Pod", pod(activeDeadlineSeconds=100))
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["activeDeadlineSeconds"] = 50
    new["spec"]["tolerations"].append({"key": "x", "operator": "Exists"})
    new["metadata"]["labels"] = {"changed": "yes"}
    assert validate_update("Pod", old, new) == []

    new["spec"]["restartPolicy"] = "Never"
    causes = validate_update("Pod", old, new)
    assert fields(causes) == [("spec", "FieldValueForbidden")]
    assert causes[0]["message"].startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`")
    assert 'spec.restartPolicy: "Always" -> "Never"' in causes[0]["message"]

    longer = copy.deepcopy(old)
    longer["spec"]["activeDeadlineSeconds"] = 200
    assert fields(validate_update("Pod", old, longer)) == [
        ("spec.activeDeadlineSeconds", "FieldValueInvalid")]
    fewer = copy.deepcopy(old)
    fewer["spec"]["tolerations"] = []
    assert fields(validate_update("Pod", old, fewer)) == [("spec.tolerations", "FieldValueForbidden")]
    more_containers = copy.deepcopy(old)
    more_containers["spec"]["containers"].append({"name": "b", "image": "x"})
    assert fields(validate_update("Pod", old, more_containers)) == [("spec", "FieldValueForbidden")]


@pytest.mark.parametrize("obj", [
    {"metadata": {"name": "x"}, "spec": {"containers": ["nginx"]}},
    {"metadata": "x"},
    {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "a", "image": "b", "ports": "80"}]}},
])
def test_malformed_objects_give_a_cause_not_a_crash(obj):
    apply_defaults("Pod", obj)
    causes = validate("Pod", obj)
    assert causes and causes[0]["type"] == "FieldValueInvalid"


def test_pod_update_against_an_old_pod_stored_without_some_defaults():
    old = apply_defaults("Pod", pod())
    del old["spec"]["containers"][0]["resources"]        # stored by an older version
    new = apply_defaults("Pod", copy.deepcopy(old))
    new["metadata"]["labels"] = {"a": "b"}
    assert validate_update("Pod", old, new) == []
