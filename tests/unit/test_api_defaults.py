import pytest

from minikube_py.api.defaults import image_pull_policy, qos_class
from minikube_py.api.kinds import apply_defaults


def pod(*containers, **spec):
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers), **spec}}


def test_pod_defaults():
    p = apply_defaults("Pod", pod({"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}))
    spec = p["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert spec["priority"] == 0
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["resources"] == {}
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_pod_defaults_keep_set_values_and_are_idempotent():
    p = pod({"name": "c", "image": "x", "imagePullPolicy": "Never"}, restartPolicy="OnFailure",
            tolerations=[{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                          "effect": "NoExecute", "tolerationSeconds": 10}])
    p["status"] = {"phase": "Running", "qosClass": "Burstable"}
    apply_defaults("Pod", p)
    assert p["spec"]["restartPolicy"] == "OnFailure"
    assert p["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert [t["key"] for t in p["spec"]["tolerations"]] == [
        "node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]
    assert p["spec"]["tolerations"][0]["tolerationSeconds"] == 10
    assert p["status"] == {"phase": "Running", "qosClass": "Burstable"}
    snapshot = repr(p)
    apply_defaults("Pod", p)
    assert repr(p) == snapshot


def test_tolerate_everything_needs_no_default_tolerations():
    p = apply_defaults("Pod", pod({"name": "c", "image": "x"}, tolerations=[{"operator": "Exists"}]))
    assert p["spec"]["tolerations"] == [{"operator": "Exists"}]


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("localhost:5000/app", "Always"), ("localhost:5000/app:v1", "IfNotPresent"),
    ("nginx@sha256:abcd", "IfNotPresent"), ("ghcr.io/org/app:latest", "Always"),
])
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_requests_default_to_limits_and_qos():
    p = apply_defaults("Pod", pod({"name": "c", "image": "x",
                                   "resources": {"limits": {"cpu": "1", "memory": "1Gi",
                                                            "nvidia.com/gpu": "1"}}}))
    assert p["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}
    assert p["status"]["qosClass"] == "Guaranteed"


@pytest.mark.parametrize("resources, qos", [
    ({}, "BestEffort"),
    ({"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1"}}, "Burstable"),
    ({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Burstable"),
])
def test_qos_class(resources, qos):
    assert qos_class({"containers": [{"name": "c", "resources": resources}]}) == qos


def test_qos_every_container_counts():
    full = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    spec = {"containers": [{"name": "a", "resources": full}, {"name": "b"}]}
    assert qos_class(spec) == "Burstable"


def test_probe_and_volume_defaults():
    p = apply_defaults("Pod", pod(
        {"name": "c", "image": "x", "livenessProbe": {"httpGet": {"port": 80}}},
        volumes=[{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]))
    probe = p["spec"]["containers"][0]["livenessProbe"]
    assert probe == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                     "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert p["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}},
                                    {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}]


def test_deployment_defaults():
    d = apply_defaults("Deployment", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "x"}},
                     "spec": {"containers": [{"name": "c", "image": "x:1",
                                              "resources": {"limits": {"cpu": "1"}}}]}}}})
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and tspec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    # pod-only defaults stay off templates, as in Kubernetes
    assert "tolerations" not in tspec and "priority" not in tspec
    assert "requests" not in tspec["containers"][0]["resources"]
    assert "status" not in d


def test_deployment_recreate_and_replicas_kept():
    d = apply_defaults("Deployment", {"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}})
    assert d["spec"]["replicas"] == 0
    assert d["spec"]["strategy"] == {"type": "Recreate"}


def test_replicaset_defaults():
    rs = apply_defaults("ReplicaSet", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    assert rs["spec"]["replicas"] == 1
    assert rs["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_namespace_and_node_defaults():
    ns = apply_defaults("Namespace", {"metadata": {"name": "team"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    node = apply_defaults("Node", {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}})
    assert node["status"]["allocatable"] == {"cpu": "4"}
    assert apply_defaults("Widget", {"a": 1}) == {"a": 1}
