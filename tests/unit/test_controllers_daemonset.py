"""The DaemonSet controller's rules, one function each: which nodes, which node a pod is for,
what a rolling update may take away; and the ControllerRevision data both sets write."""
from minikube_py.controllers import daemonset, history


def node(name="n1", labels=None, taints=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def ds(**spec):
    return {"metadata": {"name": "agent", "namespace": "ns", "uid": "u1", "generation": 3},
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "spec": {"template": {"metadata": {"labels": {"app": "a"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, **spec}}


def test_taints_decide_whether_a_pod_starts_or_stays():
    spec = daemonset.daemon_pod_spec(ds())
    assert daemonset.should_run(node(), spec) == (True, True)
    assert daemonset.should_run(node(taints=[{"key": "x", "effect": "NoSchedule"}]), spec) == (False, True)
    assert daemonset.should_run(node(taints=[{"key": "x", "effect": "NoExecute"}]), spec) == (False, False)
    # the automatic tolerations: an unreachable or cordoned node keeps its daemon pod
    for key, effect in (("node.kubernetes.io/unreachable", "NoExecute"),
                        ("node.kubernetes.io/unschedulable", "NoSchedule"),
                        ("node.kubernetes.io/memory-pressure", "NoSchedule")):
        assert daemonset.should_run(node(taints=[{"key": key, "effect": effect}]), spec) == (True, True)


def test_node_selector_and_required_affinity():
    spec = daemonset.daemon_pod_spec(ds())
    spec["nodeSelector"] = {"disk": "ssd"}
    assert daemonset.should_run(node(), spec) == (False, False)
    assert daemonset.should_run(node(labels={"disk": "ssd"}), spec) == (True, True)
    spec = daemonset.daemon_pod_spec(ds())
    spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    assert daemonset.should_run(node(labels={"zone": "b"}), spec)[0] is False
    assert daemonset.should_run(node(labels={"zone": "a"}), spec)[0] is True


def test_a_pod_is_pinned_to_its_node_by_match_fields():
    spec = {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}}}
    daemonset.pin_to_node(spec, "n7")
    assert daemonset.target_node({"spec": spec}) == "n7"
    assert spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 1}]
    assert daemonset.target_node({"spec": {"nodeName": "n2"}}) == "n2"
    spec = {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "operator": "Exists"}],
            "hostNetwork": True}
    daemonset.add_daemon_tolerations(spec)
    keys = [t["key"] for t in spec["tolerations"]]
    assert len(keys) == len(set(keys)) == 7 and "node.kubernetes.io/network-unavailable" in keys


def test_rolling_parameters_round_up_and_never_both_zero():
    rolling = lambda **r: ds(updateStrategy={"type": "RollingUpdate", "rollingUpdate": r})  # noqa: E731
    assert daemonset.rolling_params(rolling(maxUnavailable=1, maxSurge=0), 10) == (0, 1)
    assert daemonset.rolling_params(rolling(maxUnavailable="25%", maxSurge=0), 10) == (0, 3)
    assert daemonset.rolling_params(rolling(maxUnavailable=0, maxSurge="10%"), 3) == (1, 0)
    assert daemonset.rolling_params(rolling(maxUnavailable="0%", maxSurge="0%"), 3) == (0, 1)


def test_a_revision_is_a_patch_that_gives_the_template_back():
    parent = ds()
    rev = history.new_revision(parent, 4, None)
    assert rev["revision"] == 4 and rev["data"]["spec"]["template"]["$patch"] == "replace"
    assert rev["metadata"]["name"] == "agent-" + rev["metadata"]["labels"][history.HASH_LABEL]
    assert rev["metadata"]["labels"]["app"] == "a"
    assert rev["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert history.matches(rev, parent) and history.template_of(rev) == parent["spec"]["template"]
    other = ds()
    other["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
    assert not history.matches(rev, other)
    assert history.hash_of(parent, None) != history.hash_of(other, None)
    assert history.hash_of(parent, 1) != history.hash_of(parent, None)       # collisionCount changes the name
