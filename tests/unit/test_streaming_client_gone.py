"""client_gone(): a watch or `logs -f` stream notices its client left -- and only then,
also when the connection's descriptor is above 1023 (an apiserver with a thousand
watches has such descriptors; select() refuses them)."""
import os
import resource
import socket

import pytest

from minikube_py.streaming import client_gone


def pair():
    a, b = socket.socketpair()
    return a, b


def test_a_quiet_client_is_not_gone_and_a_closed_one_is():
    server, client = pair()
    try:
        assert not client_gone(server)
        client.close()
        assert client_gone(server)
    finally:
        server.close()


def test_descriptors_above_1023_are_checked_too():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.fail(f"this test needs 1200 descriptors; the hard limit here is {hard}")
    if soft != resource.RLIM_INFINITY and soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1030)]
    try:
        server, client = pair()
        assert server.fileno() > 1023
        try:
            assert not client_gone(server)          # select() made this True (ValueError)
            client.sendall(b"x")                    # readable with data: still there
            assert not client_gone(server)
            assert server.recv(1) == b"x"
            client.close()
            assert client_gone(server)
        finally:
            server.close()
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_hangup_monitor_calls_back_once_when_the_client_closes():
    import threading
    from minikube_py.streaming import HangupMonitor
    monitor = HangupMonitor()
    called = {"quiet": threading.Event(), "gone": threading.Event(), "forgotten": threading.Event()}
    socks = {name: pair() for name in called}
    try:
        keys = {name: monitor.watch(socks[name][0], called[name].set) for name in called}
        assert all(k is not None for k in keys.values())
        monitor.forget(keys["forgotten"])
        socks["gone"][1].close()
        socks["forgotten"][1].close()
        assert called["gone"].wait(5)
        assert not called["quiet"].wait(0.3)               # a quiet client: no call
        assert not called["forgotten"].is_set()            # forgotten before its client left
        assert client_gone(socks["gone"][0]) and not client_gone(socks["quiet"][0])
    finally:
        for a, b in socks.values():
            a.close()
            b.close()
