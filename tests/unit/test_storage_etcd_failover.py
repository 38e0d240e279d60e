"""The etcd store's fail-over between members (EtcdStore._fail_over), on pyetcd's own endpoint
objects: gRPC channels connect lazily, so no etcd needs to run for the bookkeeping."""
from minikube_py.storage.etcd import EtcdStore


def failed(store):
    return sorted(label for label, ep in store.client.endpoints.items() if ep.is_failed())


def test_a_failed_call_moves_to_the_next_member_but_the_last_is_never_marked_failed():
    """During a leader election the healthy members answer UNAVAILABLE too: marking all three
    would leave no endpoint and make every request 503 for a second."""
    store = EtcdStore("http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3")
    try:
        for _ in range(5):
            store.client.channel          # what the next call uses: the first member not failed
            store._fail_over()
        assert len(failed(store)) == 2
        assert store.client.channel is not None     # no NoServerAvailableError
    finally:
        store.client.close()


def test_a_single_member_is_never_marked_failed():
    store = EtcdStore("http://127.0.0.1:1")
    try:
        store._fail_over()
        assert failed(store) == []
    finally:
        store.client.close()
