"""Watches that wait hold no thread of the apiserver (apiserver/watchhub.py), and behave
to their clients as before: events in order, bookmarks, timeoutSeconds, slow clients."""
import json
import os
import socket
import time
from urllib.parse import urlparse


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


def _open_watch(api_url: str, namespace: str, query: str = "", rcvbuf: int | None = None) -> socket.socket:
    u = urlparse(api_url)
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((u.hostname, u.port))
    s.sendall(f"GET /api/v1/namespaces/{namespace}/configmaps?watch=1{query} HTTP/1.1\r\n"
              f"Host: x\r\nAccept: application/json\r\n\r\n".encode())
    s.settimeout(10)
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def _read_until(s: socket.socket, needle: bytes, data: bytes = b"") -> bytes:
    while needle not in data:
        more = s.recv(1 << 20)
        assert more, f"stream closed before {needle!r}"
        data += more
    return data


def test_idle_watches_hold_no_thread_and_all_get_their_events(cluster, api_url, api_client, namespace):
    pid = cluster.api_proc.pid
    before = _threads(pid)
    watches = [_open_watch(api_url, namespace) for _ in range(200)]
    # A watch's worker goes back to the pool once the initial state is out: 200 open
    # watches do not grow the apiserver by 200 threads.
    assert _threads(pid) < before + 40
    api_client.create("configmaps", {"metadata": {"name": "to-all"}, "data": {"a": "1"}}, namespace)
    for s in watches:
        data = _read_until(s, b'"to-all"')
        line = next(x for x in data.split(b"\r\n") if b'"to-all"' in x)
        assert json.loads(line)["type"] == "ADDED"
        s.close()


def test_a_stream_ends_at_its_timeout_with_a_bookmark_and_the_connection_serves_the_next_request(
        api_url, api_client, namespace):
    s = _open_watch(api_url, namespace, "&timeoutSeconds=2&allowWatchBookmarks=true")
    api_client.create("configmaps", {"metadata": {"name": "before-end"}, "data": {}}, namespace)
    data = _read_until(s, b"\r\n0\r\n\r\n")
    assert data.index(b'"before-end"') < data.index(b'"BOOKMARK"')
    # keep-alive: the same connection takes another request
    s.sendall(f"GET /api/v1/namespaces/{namespace}/configmaps/before-end HTTP/1.1\r\n"
              f"Host: x\r\nAccept: application/json\r\n\r\n".encode())
    answer = _read_until(s, b'"before-end"', b"")
    assert answer.startswith(b"HTTP/1.1 200")
    s.close()


def test_a_client_that_does_not_read_falls_behind_alone_and_loses_nothing(api_url, api_client, namespace):
    slow = _open_watch(api_url, namespace, rcvbuf=4096)
    fast = _open_watch(api_url, namespace)
    big = "x" * 100_000
    names = [f"big-{i:02d}" for i in range(40)]      # 4 MB: far more than the sockets hold
    for name in names:
        api_client.create("configmaps", {"metadata": {"name": name}, "data": {"v": big}}, namespace)
    # The fast client gets every event while the slow one has read nothing (the cache's
    # dispatch thread never waits for the slow one's socket).
    fast.settimeout(30)
    data = _read_until(fast, names[-1].encode())
    assert [data.index(n.encode()) for n in names] == sorted(data.index(n.encode()) for n in names)
    slow.settimeout(30)
    data = _read_until(slow, names[-1].encode())
    assert [data.index(n.encode()) for n in names] == sorted(data.index(n.encode()) for n in names)
    slow.close()
    fast.close()


def test_clients_that_hang_up_give_their_connections_back(cluster, api_url, namespace):
    pid = cluster.api_proc.pid
    watches = [_open_watch(api_url, namespace) for _ in range(50)]
    time.sleep(0.5)
    peak = len(os.listdir(f"/proc/{pid}/fd"))
    for s in watches:
        s.close()
    deadline = time.monotonic() + 10
    while len(os.listdir(f"/proc/{pid}/fd")) > peak - 45 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(os.listdir(f"/proc/{pid}/fd")) <= peak - 45
