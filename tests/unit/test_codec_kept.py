"""JSON the watch cache keeps must not hold orjson's whole output buffer."""
import tracemalloc

from minikube_py import codec


def test_kept_json_costs_about_its_length():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x" * 1300}]}}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [codec.dumps_to_keep(pod) for _ in range(200)]
        per = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert kept[0] == codec.dumps(pod)
    assert per < 2 * len(kept[0])


def test_clone_is_a_deep_copy_and_takes_what_json_cannot_hold():
    from minikube_py import codec
    lease = {"metadata": {"name": "n", "ownerReferences": [{"kind": "Node", "uid": "u"}]},
             "spec": {"leaseDurationSeconds": 40, "renewTime": "2026-12-08T02:34:00.123456Z"}}
    copied = codec.clone(lease)
    assert copied == lease
    copied["metadata"]["ownerReferences"][0]["uid"] = "other"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "u"
    odd = {"s": {1, 2}}                        # not JSON: copy.deepcopy does it
    assert codec.clone(odd) == odd and codec.clone(odd)["s"] is not odd["s"]
