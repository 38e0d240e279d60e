"""The applier: hands the rule builder's text to the kernel, and takes it back out.

* ``apply(text)``: ``iptables-restore --noflush``: one atomic transaction per table
  that rewrites only the chains the text declares (ours), leaving Docker's and
  everyone else's rules alone; then the jumps from the built-in chains into ours
  are made sure of (``-C``, else ``-I`` at the top).
* ``cleanup()``: remove the jumps, flush and delete every chain of ours
  (``minikube-py proxy --cleanup``, ``minikube-py down``).
* ``check_usable()``: can this process program iptables at all (root, the binary,
  the nat table)? If not, the proxy says why and falls back to userspace.

All commands run with ``-w``: they wait for the xtables lock instead of failing
while Docker (or a second proxy) holds it.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess

from .rules import FILTER_CHAINS, JUMPS, NAT_CHAINS, SERVICE_CHAIN_PREFIXES, cleanup_text

log = logging.getLogger(__name__)

IPTABLES = "iptables"
TIMEOUT = 30


class IptablesError(RuntimeError):
    pass


def _run(args: list, input_text: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, input=input_text, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise IptablesError(f"{args[0]}: {e}") from e


def check_usable() -> str | None:
    """None if iptables can be programmed here, else the reason why not."""
    if shutil.which(IPTABLES) is None or shutil.which(IPTABLES + "-restore") is None:
        return "the iptables and iptables-restore commands are not installed"
    proc = _run([IPTABLES, "-w", "-t", "nat", "-S", "POSTROUTING"])
    if proc.returncode != 0:
        why = proc.stderr.strip() or f"exit status {proc.returncode}"
        return f"cannot read the nat table ({why}); kube-proxy needs root (CAP_NET_ADMIN)"
    return None


def existing_chains() -> dict:
    """table -> the names of the chains now in it (from ``iptables-save``)."""
    out = {}
    for table in ("nat", "filter"):
        proc = _run([IPTABLES + "-save", "-t", table])
        if proc.returncode != 0:
            raise IptablesError(f"iptables-save -t {table}: {proc.stderr.strip()}")
        out[table] = re.findall(r"^:(\S+) ", proc.stdout, re.M)
    return out


def ours(chains: dict) -> bool:
    """Are any of our chains in ``chains`` (``existing_chains()``)?"""
    return any(c in NAT_CHAINS or c.startswith(SERVICE_CHAIN_PREFIXES) for c in chains.get("nat", ())) \
        or any(c in FILTER_CHAINS for c in chains.get("filter", ()))


def apply(text: str) -> None:
    """Restore ``text`` atomically (our chains only), then make sure the jumps exist."""
    proc = _run([IPTABLES + "-restore", "-w", "--noflush"], text)
    if proc.returncode != 0:
        raise IptablesError(f"iptables-restore failed: {proc.stderr.strip() or proc.returncode}")
    ensure_jumps()


def ensure_jumps() -> None:
    for table, chain, rule in JUMPS:
        if _run([IPTABLES, "-w", "-t", table, "-C", chain, *rule]).returncode == 0:
            continue
        proc = _run([IPTABLES, "-w", "-t", table, "-I", chain, "1", *rule])
        if proc.returncode != 0:
            raise IptablesError(f"iptables -t {table} -I {chain}: {proc.stderr.strip()}")


def set_route_localnet() -> None:
    """127.0.0.1:<nodePort> is DNATed to a pod: the kernel must route a 127/8 source off lo
    (kube-proxy sets the same sysctl; KUBE-FIREWALL drops what should not use it)."""
    try:
        with open("/proc/sys/net/ipv4/conf/all/route_localnet", "w") as f:
            f.write("1")
    except OSError as e:
        log.warning("cannot set net.ipv4.conf.all.route_localnet=1 (%s): "
                    "NodePorts will not answer on 127.0.0.1, only on the node's IP", e)


def bridged_traffic_is_filtered() -> bool:
    """Does bridged traffic pass iptables (br_netfilter, bridge-nf-call-iptables=1)?"""
    try:
        with open("/proc/sys/net/bridge/bridge-nf-call-iptables") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def cleanup() -> bool:
    """Remove every rule and chain of ours. True if there was something to remove."""
    chains = existing_chains()
    if not ours(chains):
        return False
    for table, chain, rule in JUMPS:
        while _run([IPTABLES, "-w", "-t", table, "-D", chain, *rule]).returncode == 0:
            pass
    text = cleanup_text(chains)
    if text:
        proc = _run([IPTABLES + "-restore", "-w", "--noflush"], text)
        if proc.returncode != 0:
            raise IptablesError(f"iptables-restore (cleanup) failed: {proc.stderr.strip()}")
    return True
