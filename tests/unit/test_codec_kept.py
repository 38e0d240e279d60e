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
