import re
from datetime import datetime, timedelta, timezone

import pytest

from minikube_py.api.meta import (age, generate_name, human_duration, new_uid, now_micro,
                                  now_rfc3339, owner_of, parse_time)


def test_now_formats():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_rfc3339())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", now_micro())
    assert abs((parse_time(now_micro()) - datetime.now(timezone.utc)).total_seconds()) < 5


def test_uid_and_generate_name():
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", new_uid())
    assert new_uid() != new_uid()
    name = generate_name("web-")
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
    assert len(generate_name("x" * 100)) == 63


@pytest.mark.parametrize("text, expected", [
    ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ("2026-01-02T03:04:05.123456Z", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)),
    ("2026-01-02T03:04:05.1Z", datetime(2026, 1, 2, 3, 4, 5, 100000, tzinfo=timezone.utc)),
    ("2026-01-02T03:04:05.123456789Z", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)),
    ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("bad", ["", "yesterday", None, "2026-13-01T00:00:00Z"])
def test_parse_time_invalid(bad):
    with pytest.raises(ValueError):
        parse_time(bad)


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"),
    (120, "2m"), (182, "3m2s"), (599, "9m59s"), (600, "10m"), (179 * 60 + 59, "179m"),
    (3 * 3600, "3h"), (5 * 3600 + 30 * 60, "5h30m"), (8 * 3600, "8h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (3 * 86400 + 4 * 3600, "3d4h"), (8 * 86400, "8d"), (729 * 86400, "729d"),
    (730 * 86400, "2y"), (740 * 86400, "2y10d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_age():
    now = datetime(2026, 1, 2, 3, 10, 0, tzinfo=timezone.utc)
    assert age("2026-01-02T03:09:55Z", now) == "5s"
    assert age("2026-01-02T03:00:00Z", now) == "10m"
    assert age(now - timedelta(days=3), now) == "3d"
    assert age(now - timedelta(days=800), now) == "2y70d"
    assert age(None) == "<unknown>" and age("") == "<unknown>"
    assert re.fullmatch(r"\d+s", age(now_rfc3339()))


def test_owner_of():
    pod = {"metadata": {"ownerReferences": [
        {"kind": "Node", "name": "n", "uid": "1"},
        {"kind": "ReplicaSet", "name": "rs", "uid": "2", "controller": True}]}}
    assert owner_of(pod)["name"] == "rs"
    assert owner_of(pod, "ReplicaSet")["uid"] == "2"
    assert owner_of(pod, "Job") is None
    assert owner_of(pod, "Node")["name"] == "n"          # a plain owner (not a controller)
    assert owner_of({"metadata": {"ownerReferences": [{"kind": "Node", "name": "n"}]}}) is None
    assert owner_of({}) is None and owner_of({"metadata": {}}, "ReplicaSet") is None
