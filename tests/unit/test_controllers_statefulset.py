"""The StatefulSet controller's identity rules: ordinals, the pod it makes, its claims."""
from minikube_py.controllers import statefulset


def sts(**spec):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {"serviceName": "nginx", "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}],
                                           "volumes": [{"name": "www", "emptyDir": {}},
                                                       {"name": "cfg", "configMap": {"name": "x"}}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www", "labels": {"tier": "data"}},
                                               "spec": {"accessModes": ["ReadWriteOnce"]},
                                               "status": {"phase": "Pending"}}], **spec}}


def test_ordinals_belong_to_their_set_only():
    pod = lambda name: {"metadata": {"name": name}}  # noqa: E731
    assert statefulset.ordinal_of("web", pod("web-12")) == 12
    assert statefulset.ordinal_of("web", pod("web-x")) is None
    assert statefulset.ordinal_of("web", pod("webapp-1")) is None
    assert statefulset.ordinal_of("my-web", pod("my-web-0")) == 0


def test_a_pod_has_its_name_hostname_subdomain_labels_and_claims():
    s = sts()
    pod = statefulset.new_pod(s, s["spec"]["template"], "web-abc", 3)
    md, spec = pod["metadata"], pod["spec"]
    assert md["name"] == "web-3" and "generateName" not in md
    assert md["labels"] == {"app": "nginx", "statefulset.kubernetes.io/pod-name": "web-3",
                            "apps.kubernetes.io/pod-index": "3", "controller-revision-hash": "web-abc"}
    assert spec["hostname"] == "web-3" and spec["subdomain"] == "nginx"
    assert spec["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-3"}},
                               {"name": "cfg", "configMap": {"name": "x"}}]
    assert md["ownerReferences"][0]["controller"] is True and md["ownerReferences"][0]["kind"] == "StatefulSet"
    claim = statefulset.claims_for(s, 3)["www"]
    assert claim["metadata"] == {"name": "www-web-3", "namespace": "ns", "labels": {"tier": "data", "app": "nginx"}}
    assert claim["kind"] == "PersistentVolumeClaim" and "status" not in claim
