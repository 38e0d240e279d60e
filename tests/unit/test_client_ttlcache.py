import time

from minikube_py.client.ttlcache import TTLCache


def test_an_answer_is_kept_for_its_ttl_then_forgotten():
    cache = TTLCache()
    cache.put("t", False, ttl=0.05)          # a refusal is an answer too
    assert cache.get("t") is False
    time.sleep(0.06)
    assert cache.get("t") is None


def test_it_never_holds_more_than_its_bound():
    cache = TTLCache(max_entries=3)
    for i in range(10):
        cache.put(i, i, ttl=60)
        assert len(cache.entries) <= 3
    assert cache.get(9) == 9
