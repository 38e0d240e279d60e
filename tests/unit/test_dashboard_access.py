"""The dashboard's per-user filter of its stream (access.Viewer), given the answers of an
authorizer: which records, metrics and deletions a user's page gets. The answers come from
a table here; tests/integration/test_dashboard_auth.py asks a real apiserver."""
from minikube_py.dashboard.access import Access, User, Viewer
from minikube_py.dashboard.command import page_url


class TableAccess(Access):
    """Access whose reviews are answered from a set of (verb, group, resource, namespace)."""

    def __init__(self, grants):
        super().__init__(client=None, recheck=0)
        self.grants = set(grants)

    def authenticate(self, token):
        return User("alice") if token == "t" else None

    def allowed(self, user, verb, resource, group="", namespace="", name="", subresource=""):
        self.reviews += 1
        return (verb, group, resource, namespace) in self.grants


def grants(resource, namespace, group=""):
    return {("list", group, resource, namespace)}


def snapshot():
    return {"op": "snapshot", "records": {
        "nodes": {"n1": {"name": "n1"}},
        "pods": {"a/p": {"namespace": "a", "name": "p"}, "b/p": {"namespace": "b", "name": "p"}},
        "events": {"a/e": {"namespace": "a", "name": "e"}}},
        "metrics": {"nodes": {"n1": {"cpu": 1}}, "pods": {"a/p": {"cpu": 1}, "b/p": {"cpu": 2}},
                    "gpuDevices": {"a/p": ["GPU-0"], "b/p": ["GPU-1"]}}}


def test_a_namespace_viewer_gets_that_namespace_only():
    access = TableAccess(grants("pods", "a") | grants("pods", "a", "metrics.k8s.io"))
    viewer = Viewer(access, User("alice"), "t")
    snap = viewer.filter(snapshot())
    assert snap["records"] == {"nodes": {}, "pods": {"a/p": {"namespace": "a", "name": "p"}}, "events": {}}
    assert snap["metrics"] == {"nodes": {}, "pods": {"a/p": {"cpu": 1}}, "gpuDevices": {"a/p": ["GPU-0"]}}
    assert viewer.filter({"op": "put", "resource": "pods", "key": "b/q", "record": {}}) is None
    assert viewer.filter({"op": "delete", "resource": "pods", "key": "a/q"}) is not None
    assert viewer.filter({"op": "delete", "resource": "nodes", "key": "n1"}) is None
    assert viewer.may_list_pods_somewhere(["a", "b"]) and not viewer.may_list_pods_somewhere(["b"])


def test_a_cluster_wide_grant_is_one_answer_for_every_namespace():
    access = TableAccess(grants("pods", "") | grants("nodes", ""))
    viewer = Viewer(access, User("alice"), "t")
    snap = viewer.filter(snapshot())
    assert set(snap["records"]["pods"]) == {"a/p", "b/p"} and set(snap["records"]["nodes"]) == {"n1"}
    asked = access.reviews
    for ns in "abcdef":
        viewer.filter({"op": "put", "resource": "pods", "key": f"{ns}/x", "record": {}})
    assert access.reviews == asked         # remembered: the stream costs no reviews


def test_a_changed_answer_or_a_refused_token_is_noticed():
    access = TableAccess(grants("pods", "a"))
    viewer = Viewer(access, User("alice"), "t")
    viewer.filter(snapshot())
    assert not viewer.changed()
    access.grants |= grants("pods", "b")
    assert viewer.changed()
    assert Viewer(access, User("alice"), "no-longer-good").changed()


def test_the_url_up_prints_logs_in_with_its_token():
    assert page_url("0.0.0.0", 8001) == "http://127.0.0.1:8001/"
    assert page_url("127.0.0.1", 8001, "a.b-c") == "http://127.0.0.1:8001/?token=a.b-c"
    assert page_url("0.0.0.0", 8001, "x;y", "http://lab:18001/") == "http://lab:18001/?token=x%3By"
