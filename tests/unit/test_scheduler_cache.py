"""The scheduler cache: assume before bind, forget on failure, confirm from the informer."""
from minikube_py.scheduler.cache import Cache
from minikube_py.scheduler.framework import PodInfo


def node(name, cpu="2"):
    return {"metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "10"}}}


def pod(name, cpu="1", node_name=None, phase="Pending"):
    spec = {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec, "status": {"phase": phase}}


def requested(cache, name):
    return cache.node(name).requested.get("cpu", 0)


def test_assumed_pod_counts_at_once_and_forget_undoes_it():
    c = Cache()
    c.add_node(node("n1"))
    c.assume(PodInfo(pod("a")), "n1")
    assert c.is_assumed("ns/a") and requested(c, "n1") == 1000
    c.forget("ns/a")
    assert not c.is_assumed("ns/a") and requested(c, "n1") == 0


def test_informer_confirms_an_assumed_pod_without_double_counting():
    c = Cache()
    c.add_node(node("n1"))
    c.assume(PodInfo(pod("a")), "n1")
    c.add_pod(pod("a", node_name="n1"))
    assert not c.is_assumed("ns/a") and requested(c, "n1") == 1000
    c.forget("ns/a")                                 # a late bind error cannot undo a confirmed pod
    assert requested(c, "n1") == 1000
    assert c.pod_count() == (0, 1)


def test_bound_elsewhere_moves_the_pod():
    c = Cache()
    c.add_node(node("n1"))
    c.add_node(node("n2"))
    c.assume(PodInfo(pod("a")), "n1")
    c.add_pod(pod("a", node_name="n2"))
    assert requested(c, "n1") == 0 and requested(c, "n2") == 1000


def test_pods_of_other_schedulers_and_updates_and_removal():
    c = Cache()
    c.add_node(node("n1"))
    c.add_pod(pod("x", node_name="n1"))
    c.update_pod(dict(pod("x", node_name="n1"), status={"phase": "Running"}))  # status only
    assert requested(c, "n1") == 1000
    c.update_pod(pod("x", cpu="500m", node_name="n1"))                        # resized
    assert requested(c, "n1") == 500
    c.remove_pod(pod("x", node_name="n1"))
    assert requested(c, "n1") == 0
    c.remove_pod(pod("x", node_name="n1"))                                    # twice: harmless


def test_pods_on_unknown_nodes_are_kept_but_not_schedulable():
    c = Cache()
    c.add_pod(pod("a", node_name="ghost"))
    assert [n.name for n in c.nodes()] == []
    c.add_node(node("ghost"))                         # the Node shows up later: counts stand
    assert [n.name for n in c.nodes()] == ["ghost"] and requested(c, "ghost") == 1000


def test_node_deleted_with_pods_then_pods_go():
    c = Cache()
    c.add_node(node("n1"))
    c.add_pod(pod("a", node_name="n1"))
    c.remove_node(node("n1"))
    assert c.nodes() == [] and c.node("n1") is not None and not c.has_node("n1")
    c.remove_pod(pod("a", node_name="n1"))
    assert c.node("n1") is None
    c.remove_node(node("never-seen"))                 # harmless


def test_node_update_keeps_pods_and_order():
    c = Cache()
    for name in ("a", "b", "c"):
        c.add_node(node(name))
    c.add_pod(pod("p", node_name="b"))
    c.update_node(node("b", cpu="8"))
    assert [n.name for n in c.nodes()] == ["a", "b", "c"]
    assert c.node("b").allocatable["cpu"] == 8000 and requested(c, "b") == 1000


def test_unreadable_bound_pod_counts_zero_instead_of_crashing():
    c = Cache()
    c.add_node(node("n1"))
    c.add_pod(pod("bad", cpu="lots", node_name="n1"))
    assert requested(c, "n1") == 0 and c.dump()["n1"]["pods"] == ["ns/bad"]
