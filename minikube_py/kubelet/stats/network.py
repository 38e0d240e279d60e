"""A pod's network counters, read in its sandbox's network namespace.

Every container of a pod shares the sandbox's network namespace, so the pod's
traffic is counted once, on the sandbox's interfaces.  ``/proc/<pid>/net/dev``
of any process in that namespace lists them (the file follows the reader's
*target* process's namespace), which is how cAdvisor reads a pod's network
without entering the namespace.  The loopback interface is left out, as the
kubelet's Summary API does.
"""
from __future__ import annotations

import os

PROC = "/proc"


def parse_net_dev(text: str) -> list[dict]:
    """``/proc/net/dev`` -> [{name, rxBytes, rxErrors, txBytes, txErrors}], loopback left out.

    The format: two header lines, then ``iface: rx_bytes rx_packets rx_errs rx_drop
    rx_fifo rx_frame rx_compressed rx_multicast tx_bytes tx_packets tx_errs ...``.
    """
    out = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) < 11:
            continue
        name = name.strip()
        if name == "lo":
            continue
        out.append({"name": name, "rxBytes": int(fields[0]), "rxErrors": int(fields[2]),
                    "txBytes": int(fields[8]), "txErrors": int(fields[10])})
    return out


def read_interfaces(pid: int, proc: str = PROC) -> list[dict]:
    """The interfaces of ``pid``'s network namespace ([] if the process is gone)."""
    try:
        with open(os.path.join(proc, str(pid), "net", "dev")) as f:
            return parse_net_dev(f.read())
    except (OSError, ValueError):
        return []


def network_stats(interfaces: list[dict], time: str, default: str = "eth0") -> dict | None:
    """The Summary API's NetworkStats: the default interface's counters inline, all of them
    under ``interfaces``; None when there is no interface."""
    if not interfaces:
        return None
    main = next((i for i in interfaces if i["name"] == default), interfaces[0])
    return {"time": time, **main, "interfaces": interfaces}
