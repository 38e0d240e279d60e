"""Idle watches cost the apiserver a sleeping thread each, and no more; a client that
leaves one still gets its thread back at once (streaming.HangupMonitor)."""
import json
import socket
import time
from urllib.parse import urlparse



def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


def _open_watch(api_url: str) -> socket.socket:
    u = urlparse(api_url)
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true "
              b"HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    return s


def test_abandoned_watches_give_their_threads_back_and_live_ones_get_events(cluster, api_url, api_client):
    pid = cluster.api_proc.pid
    live = _open_watch(api_url)
    first = [_open_watch(api_url) for _ in range(40)]
    peak = _threads(pid)
    for s in first:
        s.close()
    # An idle stream wakes for nothing but its client hanging up (no polling): if that
    # never reached it, these 40 threads would stay taken and the next 40 watches would
    # grow the pool by 40 more.
    time.sleep(1.0)
    second = [_open_watch(api_url) for _ in range(40)]
    assert _threads(pid) < peak + 20
    for s in second:
        s.close()

    api_client.create("configmaps", {"metadata": {"name": "after-idle"}, "data": {"a": "1"}}, "default")
    live.settimeout(10)
    data = b""
    while b"after-idle" not in data:
        data += live.recv(65536)
    line = next(x for x in data.split(b"\r\n") if b"after-idle" in x)
    assert json.loads(line)["type"] == "ADDED"
    live.close()
