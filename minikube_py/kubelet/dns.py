"""Each pod's resolv.conf and hostname, decided as the kubelet does (pkg/kubelet/network/dns).

``spec.dnsPolicy`` picks where a pod's names are resolved:

- ``ClusterFirst`` (the default): the cluster DNS (kubelet ``--cluster-dns``), search
  ``<ns>.svc.<domain> svc.<domain> <domain>`` then the host's search list,
  ``options ndots:5`` -- so ``nginx`` and ``nginx.other-ns`` resolve as Service names;
  a hostNetwork pod gets the host's settings instead (it lives in the host's network);
- ``ClusterFirstWithHostNet``: ClusterFirst, for hostNetwork pods too;
- ``Default``: the node's own resolv.conf (kubelet ``--resolv-conf``);
- ``None``: nothing but the pod's ``dnsConfig``.

``spec.dnsConfig`` (nameservers, searches, options) is then merged in; the limits are
the resolver's (3 nameservers, 32 search domains).

A pod's hostname is ``spec.hostname`` or its name; with ``spec.subdomain`` its domain is
``<subdomain>.<ns>.svc.<domain>``, so ``hostname -f`` says the name the cluster DNS
answers for it (and ``setHostnameAsFQDN`` makes that the hostname itself).
"""
from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048
DEFAULT_OPTIONS = ("ndots:5",)


@dataclass
class PodDNS:
    nameservers: list = field(default_factory=list)
    searches: list = field(default_factory=list)
    options: list = field(default_factory=list)     # "name" or "name:value"

    def resolv_conf(self) -> str:
        """The pod's /etc/resolv.conf, as the kubelet writes it."""
        lines = [f"nameserver {ns}" for ns in self.nameservers]
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"

    def docker_kwargs(self) -> dict:
        """For ``containers.create``: Docker writes these into the sandbox's resolv.conf."""
        out = {}
        for key, values in (("dns", self.nameservers), ("dns_search", self.searches),
                            ("dns_opt", self.options)):
            if values:
                out[key] = list(values)
        return out


def read_resolv_conf(path: str) -> PodDNS:
    """nameserver, search (and domain), options lines of a resolv.conf; missing file: empty."""
    conf = PodDNS()
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return conf
    for line in lines:
        parts = line.split("#")[0].split(";")[0].split()
        if len(parts) < 2:
            continue
        if parts[0] == "nameserver":
            conf.nameservers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            conf.searches = parts[1:]       # the last one wins, as in the resolver
        elif parts[0] == "options":
            conf.options += parts[1:]
    return conf


def _unique(items) -> list:
    return list(dict.fromkeys(i for i in items if i))


def merge_options(base: list, extra: list) -> list:
    """Options by name; the pod's dnsConfig options override the policy's (ndots:2 beats ndots:5)."""
    merged = {}
    for opt in list(base) + list(extra):
        merged[opt.split(":", 1)[0]] = opt
    return list(merged.values())


class DNSConfigurer:
    """The kubelet's DNS settings (``--cluster-dns``, ``--cluster-domain``, ``--resolv-conf``)."""

    def __init__(self, cluster_dns=(), cluster_domain: str = "cluster.local",
                 resolv_conf: str = "/etc/resolv.conf"):
        self.cluster_dns = [str(ipaddress.ip_address(ip)) for ip in cluster_dns]
        self.cluster_domain = cluster_domain.strip(".")
        self.resolv_conf = resolv_conf
        self._warned = False

    def host(self) -> PodDNS:
        """The node's settings; loopback nameservers are no use in a pod's own network (Docker
        drops them too)."""
        conf = read_resolv_conf(self.resolv_conf) if self.resolv_conf else PodDNS()
        conf.nameservers = [ns for ns in conf.nameservers if not _loopback(ns)]
        return conf

    def policy(self, pod: dict) -> str:
        """"cluster", "host" or "none" for a pod."""
        spec = pod.get("spec") or {}
        policy = spec.get("dnsPolicy") or "ClusterFirst"
        if policy == "None":
            return "none"
        if policy == "Default" or (policy == "ClusterFirst" and spec.get("hostNetwork")):
            return "host"
        if not self.cluster_dns:
            if not self._warned:
                log.warning("no --cluster-dns: pods with dnsPolicy %s get the node's DNS settings "
                            "(as the Default policy)", policy)
                self._warned = True
            return "host"
        return "cluster"

    def pod_dns(self, pod: dict) -> PodDNS:
        policy = self.policy(pod)
        if policy == "none":
            dns = PodDNS()
        elif policy == "host":
            dns = self.host()
        else:
            ns = (pod.get("metadata") or {}).get("namespace") or "default"
            host = self.host()
            cluster = [f"{ns}.svc.{self.cluster_domain}", f"svc.{self.cluster_domain}", self.cluster_domain] \
                if self.cluster_domain else []
            dns = PodDNS(list(self.cluster_dns), _unique(cluster + host.searches), list(DEFAULT_OPTIONS))
        extra = (pod.get("spec") or {}).get("dnsConfig") or {}
        dns.nameservers = _unique(dns.nameservers + list(extra.get("nameservers") or []))[:MAX_NAMESERVERS]
        dns.searches = _fit_searches(_unique(dns.searches + list(extra.get("searches") or [])))
        dns.options = merge_options(dns.options, [o["name"] + (f":{o['value']}" if o.get("value") else "")
                                                  for o in extra.get("options") or [] if o.get("name")])
        return dns

    def hostname_and_domain(self, pod: dict) -> tuple[str, str]:
        """(hostname, domain): spec.hostname or the pod's name (at most 63 chars); with a
        subdomain, the domain ``<subdomain>.<ns>.svc.<cluster domain>``."""
        md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        hostname = (spec.get("hostname") or md.get("name") or "pod")[:63].rstrip("-.") or "pod"
        domain = ""
        if spec.get("subdomain") and self.cluster_domain:
            domain = f"{spec['subdomain']}.{md.get('namespace') or 'default'}.svc.{self.cluster_domain}"
        return hostname, domain


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return True


def _fit_searches(searches: list) -> list:
    """At most 32 domains and 2048 characters (the kubelet drops the rest, with a warning)."""
    kept, chars = [], 0
    for domain in searches[:MAX_SEARCHES]:
        chars += len(domain) + 1
        if chars > MAX_SEARCH_CHARS:
            break
        kept.append(domain)
    if len(kept) < len(searches):
        log.warning("search line too long; kept %d of %d domains", len(kept), len(searches))
    return kept


def write_resolv_conf(dns: "DNSConfigurer", pod: dict, pod_dir: str) -> str | None:
    """Write the pod's resolv.conf under its directory and return the path (None for
    hostNetwork pods, which keep the node's).

    On a user-defined Docker network, Docker puts its own resolver (127.0.0.11) in every
    container's resolv.conf and forwards to the servers it was given; a Kubernetes pod
    sees its cluster DNS server itself. So, as dockershim rewrote the sandbox's file,
    the kubelet writes the file and the runtime mounts it into each container.
    """
    if (pod.get("spec") or {}).get("hostNetwork"):
        return None
    path = os.path.join(pod_dir, "resolv.conf")
    os.makedirs(pod_dir, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(dns.pod_dns(pod).resolv_conf())
    os.replace(tmp, path)
    return path
