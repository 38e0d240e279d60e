"""api/volumebinding.py: which volume serves a claim (pure), and the default class pick."""
from __future__ import annotations

from minikube_py.api import volumebinding as vb
from minikube_py.apiserver.defaultstorageclass import default_class


def pv(name, size, cls="c", modes=("ReadWriteOnce",), phase="Available", node=None, labels=None, ref=None):
    spec = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
            "volumeMode": "Filesystem", "hostPath": {"path": "/x"}}
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    if ref:
        spec["claimRef"] = ref
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": {"phase": phase}}


def claim(size, cls="c", modes=("ReadWriteOnce",), **spec):
    return {"metadata": {"name": "data", "namespace": "d", "uid": "u1"},
            "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": size}},
                     "storageClassName": cls, "volumeMode": "Filesystem", **spec}}


def node(name):
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}


def names(found):
    return found["metadata"]["name"] if found else None


def test_the_smallest_volume_that_serves_wins():
    volumes = [pv("a", "10Gi"), pv("b", "2Gi"), pv("c", "1Gi"), pv("d", "2Gi", cls="other"),
               pv("e", "2Gi", modes=["ReadOnlyMany"]), pv("f", "1500Mi", phase="Released")]
    assert names(vb.find_matching_volume(claim("1500Mi"), volumes)) == "b"
    assert names(vb.find_matching_volume(claim("20Gi"), volumes)) is None
    assert names(vb.find_matching_volume(claim("1Gi", modes=["ReadOnlyMany"]), volumes)) == "e"
    assert names(vb.find_matching_volume(claim("1Gi", selector={"matchLabels": {"x": "y"}}),
                                         volumes + [pv("g", "5Gi", labels={"x": "y"})])) == "g"


def test_pre_bound_volumes_come_first_and_bound_ones_never():
    mine = pv("mine", "1Gi", phase="Pending", ref={"namespace": "d", "name": "data"})
    theirs = pv("theirs", "1Gi", ref={"namespace": "d", "name": "other", "uid": "u2"})
    assert names(vb.find_matching_volume(claim("1Gi"), [pv("a", "1Gi"), mine])) == "mine"
    assert names(vb.find_matching_volume(claim("1Gi"), [theirs])) is None
    assert vb.mismatch(pv("a", "1Gi"), claim("2Gi")) == "requested PV is too small"
    assert vb.mismatch(pv("a", "1Gi", cls="x"), claim("1Gi")) == "storageClassName does not match"
    assert vb.mismatch(pv("a", "1Gi"), claim("1Gi", modes=["ReadWriteMany"])) == "incompatible accessMode"


def test_waiting_for_a_node_only_volumes_reachable_from_it_count():
    volumes = [pv("on-1", "1Gi", node="n1"), pv("on-2", "1Gi", node="n2")]
    assert vb.find_matching_volume(claim("1Gi"), volumes, need_node=True) is None
    assert names(vb.find_matching_volume(claim("1Gi"), volumes, node=node("n2"), need_node=True)) == "on-2"
    assert vb.node_affinity_matches(pv("any", "1Gi"), None)
    assert not vb.node_affinity_matches(pv("on-1", "1Gi", node="n1"), node("n2"))


def test_the_newest_default_class_wins():
    def sc(name, ts, default=True):
        anns = {"storageclass.kubernetes.io/is-default-class": "true" if default else "false"}
        return {"metadata": {"name": name, "creationTimestamp": ts, "annotations": anns}}
    assert default_class([]) is None
    assert default_class([sc("a", "2026-01-01T00:00:00Z", default=False)]) is None
    assert default_class([sc("old", "2026-01-01T00:00:00Z"), sc("new", "2026-02-01T00:00:00Z"),
                          sc("b", "2026-01-01T00:00:00Z")]) == "new"
