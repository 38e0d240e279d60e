"""--max-requests-inflight / --max-mutating-requests-inflight, as kube-apiserver applies them.

An apiserver allowed one request of each kind at once: a create held open (its body still
on the way) makes the next create a 429 TooManyRequests Status with Retry-After, while
reads, watches and a system:masters user still get through; the slot comes back after.
The limit sits between authentication and authorization (kube's DefaultBuildHandlerChain):
a user RBAC would refuse is 429 while the pool is full, 403 once there is a slot.
"""
from __future__ import annotations

import itertools
import json
import socket
import threading
import time

import pytest
import requests

from clusters import Cluster

ADMIN, ALICE, BOB = "admin-token", "alice-token", "bob-token"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    tokens = tmp_path_factory.mktemp("limits") / "tokens.csv"
    tokens.write_text(f'{ADMIN},admin,1,"system:masters"\n{ALICE},alice,2,"developers"\n{BOB},bob,3\n')
    c = Cluster(apiserver_args=("--max-requests-inflight", "1", "--max-mutating-requests-inflight", "1",
                                "--token-auth-file", str(tokens), "--authorization-mode", "RBAC")).start()
    for path, obj in (
            ("/api/v1/namespaces", {"metadata": {"name": "limits"}}),
            ("/apis/rbac.authorization.k8s.io/v1/namespaces/limits/roles", {
                "metadata": {"name": "configmaps"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]}),
            ("/apis/rbac.authorization.k8s.io/v1/namespaces/limits/rolebindings", {
                "metadata": {"name": "alice-configmaps"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmaps"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]})):
        requests.post(c.server + path, json=obj, headers=bearer(ADMIN)).raise_for_status()
    yield c.server
    c.stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class HeldCreate:
    """A create whose body arrives in two parts: it holds a mutating slot in between."""

    def __init__(self, server, name, token=ALICE):
        host, port = server.split("//")[1].split(":")
        body = json.dumps({"metadata": {"name": name}}).encode()
        self.rest = body[5:]
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall((f"POST /api/v1/namespaces/limits/configmaps HTTP/1.1\r\nHost: {host}\r\n"
                           f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:5])

    def answered(self) -> bytes:
        """What the server has sent on the held connection already (b"" while it waits)."""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(65536)
        except BlockingIOError:
            return b""
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(30)

    def finish(self) -> int:
        self.sock.sendall(self.rest)
        head = self.sock.recv(65536).decode(errors="replace")
        self.sock.close()
        return int(head.split(" ", 2)[1])


def create(server, name, token=ALICE):
    return requests.post(server + "/api/v1/namespaces/limits/configmaps", json={"metadata": {"name": name}},
                         headers=bearer(token), timeout=30)


def wait_until_429(server, name, held, timeout=20.0):
    """The held create reaches the handler a moment after its head is sent: on a loaded
    machine (CI's parallel workers) that moment can outlast a hundred quick creates."""
    deadline = time.monotonic() + timeout
    for i in itertools.count():
        r = create(server, f"{name}-{i}")
        if r.status_code == 429:
            return r, f"{name}-{i}"
        assert r.status_code == 201, r.text      # the held one was not in yet: try another name
        if time.monotonic() > deadline:
            raise AssertionError(f"the held create never took the slot (after {i + 1} creates); "
                                 f"the server's answer to it so far: {held.answered()!r}")
        time.sleep(0.02)


def test_a_create_over_the_mutating_limit_is_429_and_nothing_is_stored(limited):
    held = HeldCreate(limited, "held")
    r, refused = wait_until_429(limited, "refused", held)
    assert r.headers["Retry-After"] == "1"
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
                        "details": {"retryAfterSeconds": 1}, "code": 429}
    # the read-only pool is its own; a system:masters user is never refused
    assert requests.get(limited + "/api/v1/namespaces/limits/configmaps", headers=bearer(ALICE)).status_code == 200
    assert create(limited, "by-admin", ADMIN).status_code == 201
    assert create(limited, "anonymous", token="").status_code == 429
    assert create(limited, "by-bob", BOB).status_code == 429       # refused before RBAC is asked
    assert held.finish() == 201
    assert create(limited, "by-bob", BOB).status_code == 403       # a slot, and RBAC's answer
    assert create(limited, "after").status_code == 201          # the slot came back
    names = {i["metadata"]["name"] for i in requests.get(
        limited + "/api/v1/namespaces/limits/configmaps", headers=bearer(ADMIN)).json()["items"]}
    assert {"held", "by-admin", "after"} <= names and not names & {refused, "anonymous"}


def test_watches_are_not_counted(limited):
    url = limited + "/api/v1/namespaces/limits/configmaps"
    watches = [requests.get(url, params={"watch": "1", "timeoutSeconds": "5"}, headers=bearer(ALICE),
                            stream=True, timeout=30) for _ in range(3)]
    try:
        assert [w.status_code for w in watches] == [200, 200, 200]
        r = requests.get(url, headers=bearer(ALICE))      # limit 1, three watches open: still served
        assert r.status_code == 200, r.text
    finally:
        for w in watches:
            w.close()


def test_the_client_waits_out_a_429(limited):
    """Our REST client, like client-go, sends a 429'd request again after Retry-After."""
    from minikube_py.client.rest import Client
    held = HeldCreate(limited, "held-2")
    wait_until_429(limited, "probe", held)
    client = Client(server=limited, token=ALICE)
    done = threading.Event()
    result = {}

    def run():
        result["obj"] = client.create("configmaps", {"metadata": {"name": "patient"}}, namespace="limits")
        done.set()
    threading.Thread(target=run, daemon=True).start()
    assert not done.wait(0.5)            # refused, waiting to try again
    assert held.finish() == 201
    assert done.wait(15) and result["obj"]["metadata"]["name"] == "patient"
    client.close()

