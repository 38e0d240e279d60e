"""The `kubernetes` Endpoints each apiserver keeps itself in."""
from minikube_py.apiserver.kubernetesendpoints import desired

PORTS = [{"name": "https", "port": 6443, "protocol": "TCP"}]


def test_first_apiserver_makes_them():
    assert desired(None, "10.0.0.1", 6443) == {
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": PORTS}]}


def test_another_apiserver_joins_and_an_unchanged_one_writes_nothing():
    ep = desired(None, "10.0.0.2", 6443)
    joined = desired(ep, "10.0.0.1", 6443)
    assert joined["subsets"] == [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": PORTS}]
    assert desired(joined, "10.0.0.2", 6443) is None


def test_a_stale_port_is_replaced():
    ep = desired(None, "10.0.0.1", 8080)
    assert desired(ep, "10.0.0.1", 6443)["subsets"] == [{"addresses": [{"ip": "10.0.0.1"}], "ports": PORTS}]
