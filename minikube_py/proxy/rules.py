"""Services + Endpoints -> the iptables-restore text kube-proxy's iptables mode writes.

Pure functions (no iptables, no apiserver), so the whole translation can be read
and unit-tested against golden text. The shape is kube-proxy's (pkg/proxy/iptables):

nat table::

    PREROUTING, OUTPUT -> KUBE-SERVICES          every packet to a Service passes here
    KUBE-SERVICES  -d <clusterIP> --dport <port> -> KUBE-SVC-<hash>
                   -d <externalIP> --dport <port> -> KUBE-EXT-<hash>
                   (last) dst-type LOCAL          -> KUBE-NODEPORTS
    KUBE-NODEPORTS --dport <nodePort>             -> KUBE-EXT-<hash>
    KUBE-EXT-<hash>  mark for masquerade, then    -> KUBE-SVC-<hash>
    KUBE-SVC-<hash>  mark for masquerade unless the source is a pod; then one rule per
                     endpoint: "-m statistic --mode random --probability 1/(n-i)"
                     -> KUBE-SEP-<hash>  (so each of n endpoints gets 1/n of new connections)
    KUBE-SEP-<hash>  (hairpin: from itself -> mark) DNAT --to-destination <podIP:port>
    POSTROUTING -> KUBE-POSTROUTING: MASQUERADE what was marked 0x4000 (KUBE-MARK-MASQ)

filter table: Services without endpoints are REJECTed (the client gets "connection
refused" at once instead of a timeout), KUBE-FORWARD lets marked (Service) traffic be
forwarded, KUBE-FIREWALL drops martian traffic to 127/8 (kube-proxy turns on
route_localnet so that 127.0.0.1:<nodePort> works).

Chain names are kube-proxy's: ``KUBE-SVC-`` + the first 16 characters of
base32(sha256("ns/name:portname" + "tcp")), ``KUBE-SEP-`` the same over the
endpoint too, so a Service keeps its chain across syncs and proxies.

Which pods are "local" does not matter here: every node of this cluster is on one
host (one network namespace), so every endpoint is local to every node and the
rules of all nodes are the same.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

MASQ_MARK = "0x4000"
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}
AFFINITY_DEFAULT_SECONDS = 10800

# The chains this proxy owns, per table (flushed and rewritten on every sync).
NAT_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
FILTER_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-FIREWALL")
# The per-Service chains; one of these no longer written is stale and deleted.
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-")

# Jumps from the built-in chains into ours: (table, chain, rule). They are not part of
# the restore text (restoring with --noflush would append them again every sync); the
# applier makes sure each exists once, at the top of its chain.
_NEW = ["-m", "conntrack", "--ctstate", "NEW"]
JUMPS = (
    ("nat", "PREROUTING", ["-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"]),
    ("nat", "OUTPUT", ["-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"]),
    ("nat", "POSTROUTING", ["-m", "comment", "--comment", "kubernetes postrouting rules",
                            "-j", "KUBE-POSTROUTING"]),
    ("filter", "INPUT", _NEW + ["-m", "comment", "--comment", "kubernetes externally-visible service portals",
                                "-j", "KUBE-EXTERNAL-SERVICES"]),
    ("filter", "INPUT", ["-j", "KUBE-FIREWALL"]),
    ("filter", "FORWARD", ["-m", "comment", "--comment", "kubernetes forwarding rules", "-j", "KUBE-FORWARD"]),
    ("filter", "FORWARD", _NEW + ["-m", "comment", "--comment", "kubernetes service portals",
                                  "-j", "KUBE-SERVICES"]),
    ("filter", "FORWARD", _NEW + ["-m", "comment", "--comment", "kubernetes externally-visible service portals",
                                  "-j", "KUBE-EXTERNAL-SERVICES"]),
    ("filter", "OUTPUT", _NEW + ["-m", "comment", "--comment", "kubernetes service portals",
                                 "-j", "KUBE-SERVICES"]),
    ("filter", "OUTPUT", ["-j", "KUBE-FIREWALL"]),
)


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with the endpoints behind it: what one KUBE-SVC chain serves."""

    namespace: str
    name: str
    port_name: str
    protocol: str                  # TCP | UDP | SCTP
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple = ()
    affinity_seconds: int = 0      # sessionAffinity ClientIP: how long a client sticks
    endpoints: tuple = field(default=())   # ("10.244.0.5", 80), ... sorted

    @property
    def key(self) -> str:
        """kube-proxy's ServicePortName: ``ns/name:port`` (``ns/name`` for an unnamed port)."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def proto(self) -> str:
        return PROTOCOLS[self.protocol]

    def svc_chain(self) -> str:
        return "KUBE-SVC-" + _hash(self.key + self.proto)

    def ext_chain(self) -> str:
        return "KUBE-EXT-" + _hash(self.key + self.proto)

    def sep_chain(self, ip: str, port: int) -> str:
        return "KUBE-SEP-" + _hash(self.key + self.proto + f"{ip}:{port}")


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


# ====================================================================== objects -> ports
def _endpoints_for(ep: dict | None, port_name: str, protocol: str) -> tuple:
    """Ready addresses of an Endpoints object for the service port named ``port_name``."""
    found = set()
    for subset in (ep or {}).get("subsets") or []:
        for p in subset.get("ports") or []:
            if (p.get("name") or "") != port_name or p.get("protocol", "TCP") != protocol:
                continue
            for addr in subset.get("addresses") or []:
                if addr.get("ip"):
                    found.add((addr["ip"], int(p["port"])))
    return tuple(sorted(found))


def service_ports(services: list[dict], endpoints: list[dict]) -> list[ServicePort]:
    """What the rules are built from: each port of each Service that has a ClusterIP.

    Headless (clusterIP None) and ExternalName Services get no rules (DNS serves them).
    """
    eps = {(e["metadata"].get("namespace"), e["metadata"]["name"]): e for e in endpoints}
    out = []
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or spec.get("type") == "ExternalName":
            continue
        ep = eps.get((meta.get("namespace"), meta["name"]))
        affinity = 0
        if spec.get("sessionAffinity") == "ClientIP":
            affinity = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
                "timeoutSeconds") or AFFINITY_DEFAULT_SECONDS
        for p in spec.get("ports") or []:
            protocol = p.get("protocol", "TCP")
            if protocol not in PROTOCOLS:
                continue
            out.append(ServicePort(
                namespace=meta.get("namespace", "default"), name=meta["name"],
                port_name=p.get("name") or "", protocol=protocol, cluster_ip=ip,
                port=int(p["port"]), node_port=int(p.get("nodePort") or 0),
                external_ips=tuple(spec.get("externalIPs") or ()), affinity_seconds=int(affinity),
                endpoints=_endpoints_for(ep, p.get("name") or "", protocol)))
    return sorted(out, key=lambda sp: (sp.key, sp.protocol))


# ====================================================================== ports -> text
def _c(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _match(sp: ServicePort) -> str:
    return f"-m {sp.proto} -p {sp.proto}"


def build(ports: list[ServicePort], *, cluster_cidr: str = "", masquerade_all: bool = False,
          existing_chains: tuple = ()) -> str:
    """The iptables-restore input (for ``--noflush``) that makes the nat and filter
    tables route ``ports``.

    ``cluster_cidr``: the pod network; traffic to a ClusterIP from outside it (the host,
    another machine) is masqueraded so replies come back through us. ``masquerade_all``:
    masquerade every Service connection (needed when bridged traffic skips iptables,
    without br_netfilter: a pod's reply to a pod on the same bridge would bypass the
    conntrack entry that undoes the DNAT). ``existing_chains``: the ``KUBE-SVC/SEP/EXT``
    chains now in the nat table (``iptables-save``); those no longer needed are deleted.
    """
    nat_chains, nat = list(NAT_CHAINS), []
    filt = []
    nat += [
        f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        f"-A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}",
        f"-A KUBE-POSTROUTING {_c('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully",
        f"-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}",
    ]
    filt += [
        f"-A KUBE-FORWARD {_c('kubernetes forwarding rules')} -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT",
        f"-A KUBE-FORWARD {_c('kubernetes forwarding conntrack rule')} "
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 {_c('block incoming localnet connections')} "
        "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
    ]
    for sp in ports:
        nat_chains_sp, nat_sp, filt_sp = _service_port_rules(sp, cluster_cidr, masquerade_all)
        nat_chains += nat_chains_sp
        nat += nat_sp
        filt += filt_sp
    nat.append(f"-A KUBE-SERVICES {_c('kubernetes service nodeports; NOTE: this must be the last rule in this chain')}"
               " -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    stale = sorted(set(c for c in existing_chains if c.startswith(SERVICE_CHAIN_PREFIXES)) - set(nat_chains))
    lines = ["*nat"] + [f":{c} - [0:0]" for c in nat_chains + stale] + nat + [f"-X {c}" for c in stale]
    lines += ["COMMIT", "*filter"] + [f":{c} - [0:0]" for c in FILTER_CHAINS] + filt + ["COMMIT"]
    return "\n".join(lines) + "\n"


def _service_port_rules(sp: ServicePort, cluster_cidr: str, masquerade_all: bool):
    """(nat chains, nat rules, filter rules) for one service port."""
    key, m = sp.key, _match(sp)
    dst = f"-d {sp.cluster_ip}/32 --dport {sp.port}"
    if not sp.endpoints:       # REJECT in filter: "connection refused", not a black hole
        filt = [f"-A KUBE-SERVICES {_c(key + ' has no endpoints')} {m} {dst} -j REJECT"]
        filt += [f"-A KUBE-EXTERNAL-SERVICES {_c(key + ' has no endpoints')} {m} -d {ip}/32 --dport {sp.port}"
                 " -j REJECT" for ip in sp.external_ips]
        if sp.node_port:
            filt.append(f"-A KUBE-EXTERNAL-SERVICES {_c(key + ' has no endpoints')} -m addrtype --dst-type LOCAL "
                        f"{m} --dport {sp.node_port} -j REJECT")
        return [], [], filt
    svc, ext = sp.svc_chain(), sp.ext_chain()
    external = bool(sp.node_port or sp.external_ips)
    chains = [svc] + ([ext] if external else [])
    nat = [f"-A KUBE-SERVICES {_c(key + ' cluster IP')} {m} {dst} -j {svc}"]
    nat += [f"-A KUBE-SERVICES {_c(key + ' external IP')} {m} -d {ip}/32 --dport {sp.port} -j {ext}"
            for ip in sp.external_ips]
    if sp.node_port:
        nat.append(f"-A KUBE-NODEPORTS {_c(key)} {m} --dport {sp.node_port} -j {ext}")
    if external:
        nat += [f"-A {ext} {_c('masquerade traffic for ' + key + ' external destinations')} -j KUBE-MARK-MASQ",
                f"-A {ext} -j {svc}"]
    if masquerade_all:
        nat.append(f"-A {svc} {_c(key + ' cluster IP')} {m} {dst} -j KUBE-MARK-MASQ")
    elif cluster_cidr:
        nat.append(f"-A {svc} {_c(key + ' cluster IP')} {m} {dst} ! -s {cluster_cidr} -j KUBE-MARK-MASQ")
    seps = [(sp.sep_chain(ip, port), ip, port) for ip, port in sp.endpoints]
    if sp.affinity_seconds:
        nat += [f"-A {svc} {_c(key + ' -> ' + f'{ip}:{port}')} -m recent --name {sep} --rcheck "
                f"--seconds {sp.affinity_seconds} --reap -j {sep}" for sep, ip, port in seps]
    n = len(seps)
    for i, (sep, ip, port) in enumerate(seps):
        chance = f" -m statistic --mode random --probability {1.0 / (n - i):0.10f}" if i < n - 1 else ""
        nat.append(f"-A {svc} {_c(key + ' -> ' + f'{ip}:{port}')}{chance} -j {sep}")
    for sep, ip, port in seps:
        chains.append(sep)
        recent = f" -m recent --name {sep} --set" if sp.affinity_seconds else ""
        nat += [f"-A {sep} {_c(key)} -s {ip}/32 -j KUBE-MARK-MASQ",
                f"-A {sep} {_c(key)} {m}{recent} -j DNAT --to-destination {ip}:{port}"]
    return chains, nat, []


def cleanup_text(existing_chains: dict) -> str:
    """Restore text that flushes and deletes every chain of ours (``existing_chains``:
    table -> chain names now there). The jumps into them go first (the applier)."""
    lines = []
    for table, owned in (("nat", NAT_CHAINS), ("filter", FILTER_CHAINS)):
        have = [c for c in existing_chains.get(table, ())
                if c in owned or c.startswith(SERVICE_CHAIN_PREFIXES)]
        if have:
            lines += [f"*{table}"] + [f":{c} - [0:0]" for c in have] + [f"-X {c}" for c in have] + ["COMMIT"]
    return "\n".join(lines) + ("\n" if lines else "")
