"""metrics.k8s.io from the kubelets' Summaries (metrics/scraper.py, metrics/api.py): rates
over the window between two scrapes, whole pods only, selectors, 404s."""
import pytest

from minikube_py.api.kinds.metrics import NODE_METRICS, POD_METRICS
from minikube_py.apiserver.errors import APIError
from minikube_py.metrics import api
from minikube_py.metrics.scraper import MetricsScraper, Point, rate


def node(name, port=10250, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


def stats(t, cpu_ns, ws):
    return {"cpu": {"time": t, "usageCoreNanoSeconds": cpu_ns},
            "memory": {"time": t, "workingSetBytes": ws}}


def summary(t, node_cpu, pod_cpu, containers=("app",)):
    return {"node": stats(t, node_cpu, 1 << 30),
            "pods": [{"podRef": {"name": "web", "namespace": "shop", "uid": "u1"},
                      "containers": [{"name": c, "startTime": "2026-01-01T00:00:00Z",
                                      **stats(t, pod_cpu, 200 << 20)} for c in containers]}]}


class FakeSession:
    def __init__(self, answers):
        self.answers = answers           # url -> list of summaries, one per scrape
        self.asked = []

    def get(self, url, params=None, timeout=None):
        self.asked.append((url, params))
        body = self.answers[url].pop(0)

        class R:
            def raise_for_status(self):
                if body is None:
                    import requests
                    raise requests.HTTPError("500")

            def json(self):
                return body
        return R()


def scraper(answers, nodes, pods=()):
    return MetricsScraper(lambda: nodes, lambda: list(pods), session=FakeSession(answers))


def test_rate_needs_two_points_of_the_same_run():
    a, b = Point(10**9, 1, 100.0, 5.0), Point(3 * 10**9, 1, 104.0, 5.0)
    u = rate(a, b)
    assert (u.nanocores, u.window) == (500_000_000, 4.0)
    assert rate(None, b) is None
    assert rate(a, Point(3 * 10**9, 1, 104.0, 6.0)) is None      # restarted: counter reset


def test_two_scrapes_give_node_and_pod_metrics():
    url = "http://127.0.0.1:10250/stats/summary"
    pod = {"metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}}}
    s = scraper({url: [summary("2026-01-01T00:00:00.000000Z", 0, 0),
                       summary("2026-01-01T00:00:15.000000Z", 15 * 10**9, 15 * 10**9 // 2)]},
                [node("n1", labels={"zone": "a"})], [pod])
    s.scrape_once()
    assert api.serve_list(s, NODE_METRICS, None)["items"] == []        # one scrape: no rate yet
    s.scrape_once()
    assert s.session.asked[0] == (url, {"node": "n1"})
    (nm,) = api.serve_list(s, NODE_METRICS, None)["items"]
    assert nm["usage"] == {"cpu": "1000000000n", "memory": "1048576Ki"}
    assert nm["window"] == "15s" and nm["timestamp"] == "2026-01-01T00:00:15Z"
    assert nm["metadata"]["labels"] == {"zone": "a"}
    pm = api.serve_get(s, POD_METRICS, "shop", "web")
    assert pm["kind"] == "PodMetrics" and pm["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert pm["containers"] == [{"name": "app", "usage": {"cpu": "500000000n", "memory": "204800Ki"}}]
    assert pm["metadata"]["labels"] == {"app": "web"}
    assert api.serve_list(s, POD_METRICS, "shop", label_selector="app=web")["items"] == [pm]
    assert api.serve_list(s, POD_METRICS, "shop", label_selector="app=db")["items"] == []
    assert api.serve_list(s, POD_METRICS, "other")["items"] == []
    assert api.serve_list(s, NODE_METRICS, None, field_selector="metadata.name=n1")["items"] == [nm]
    with pytest.raises(APIError) as e:
        api.serve_get(s, POD_METRICS, "shop", "nope")
    assert e.value.code == 404


def test_a_pod_with_a_container_not_yet_measured_is_left_out():
    url = "http://127.0.0.1:10250/stats/summary"
    first = summary("2026-01-01T00:00:00Z", 0, 0)
    second = summary("2026-01-01T00:00:10Z", 10**9, 10**9, containers=("app", "sidecar"))
    s = scraper({url: [first, second]}, [node("n1")])
    s.scrape_once()
    s.scrape_once()
    assert api.serve_list(s, POD_METRICS, None)["items"] == []
    assert len(api.serve_list(s, NODE_METRICS, None)["items"]) == 1


def test_a_kubelet_that_fails_loses_its_metrics_and_others_keep_theirs():
    u1, u2 = "http://127.0.0.1:1/stats/summary", "http://127.0.0.1:2/stats/summary"
    t0, t1, t2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z"
    s = scraper({u1: [summary(t0, 0, 0), summary(t1, 10**9, 0), None],
                 u2: [summary(t0, 0, 0), summary(t1, 10**9, 0), summary(t2, 2 * 10**9, 0)]},
                [node("a", 1), node("b", 2)])
    for _ in range(3):
        s.scrape_once()
    assert [m["metadata"]["name"] for m in api.serve_list(s, NODE_METRICS, None)["items"]] == ["b"]
