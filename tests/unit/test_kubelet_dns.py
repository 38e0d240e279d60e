"""Each pod's DNS settings by dnsPolicy and dnsConfig, and its hostname and domain (kubelet/dns.py)."""
import pytest

from minikube_py.kubelet.dns import DNSConfigurer, read_resolv_conf
from minikube_py.kubelet.runtime.dockerconfig import sandbox_config


@pytest.fixture
def host_conf(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("# the node's\nnameserver 10.255.255.53\nnameserver 127.0.0.53\n"
                    "search corp.example\noptions edns0 ndots:1\n")
    return str(path)


def pod(ns="shop", **spec):
    return {"metadata": {"name": "web-1", "namespace": ns, "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def test_read_resolv_conf(host_conf):
    conf = read_resolv_conf(host_conf)
    assert conf.nameservers == ["10.255.255.53", "127.0.0.53"]
    assert conf.searches == ["corp.example"] and conf.options == ["edns0", "ndots:1"]


def test_cluster_first_is_the_cluster_dns_with_the_kubernetes_search_path(host_conf):
    dns = DNSConfigurer(["10.96.0.10"], "cluster.local", host_conf).pod_dns(pod())
    assert dns.nameservers == ["10.96.0.10"]
    assert dns.searches == ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"]
    assert dns.options == ["ndots:5"]
    assert dns.docker_kwargs() == {"dns": ["10.96.0.10"], "dns_search": dns.searches, "dns_opt": ["ndots:5"]}


def test_host_network_pods_get_the_host_unless_cluster_first_with_host_net(host_conf):
    conf = DNSConfigurer(["10.96.0.10"], "cluster.local", host_conf)
    host = conf.pod_dns(pod(hostNetwork=True))
    assert host.nameservers == ["10.255.255.53"]          # the loopback one is no use in a pod
    assert host.searches == ["corp.example"] and host.options == ["edns0", "ndots:1"]
    assert conf.pod_dns(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")).nameservers == ["10.96.0.10"]
    assert conf.pod_dns(pod(dnsPolicy="Default")).nameservers == ["10.255.255.53"]


def test_none_is_only_dns_config_and_dns_config_merges_into_the_others(host_conf):
    conf = DNSConfigurer(["10.96.0.10"], "cluster.local", host_conf)
    extra = {"nameservers": ["1.1.1.1"], "searches": ["my.dns.search.suffix"],
             "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
    none = conf.pod_dns(pod(dnsPolicy="None", dnsConfig=extra))
    assert (none.nameservers, none.searches, none.options) == (["1.1.1.1"], ["my.dns.search.suffix"],
                                                               ["ndots:2", "edns0"])
    merged = conf.pod_dns(pod(dnsConfig=extra))
    assert merged.nameservers == ["10.96.0.10", "1.1.1.1"]
    assert merged.searches[-1] == "my.dns.search.suffix" and merged.options == ["ndots:2", "edns0"]
    many = conf.pod_dns(pod(dnsPolicy="None", dnsConfig={"nameservers": [f"1.1.1.{i}" for i in range(5)]}))
    assert len(many.nameservers) == 3


def test_without_cluster_dns_cluster_first_falls_back_to_the_host(host_conf):
    assert DNSConfigurer([], "cluster.local", host_conf).pod_dns(pod()).nameservers == ["10.255.255.53"]


def test_the_sandbox_gets_the_settings_and_the_hostname_its_domain(host_conf):
    conf = DNSConfigurer(["172.17.0.1"], "cluster.local", host_conf)
    kw = sandbox_config(pod(hostname="tf-worker-0", subdomain="tfjob-svc"), node_name="n", dns=conf)
    assert kw["hostname"] == "tf-worker-0" and kw["domainname"] == "tfjob-svc.shop.svc.cluster.local"
    assert kw["dns"] == ["172.17.0.1"] and kw["dns_opt"] == ["ndots:5"]
    assert kw["dns_search"][0] == "shop.svc.cluster.local"
    fqdn = sandbox_config(pod(hostname="w", subdomain="s", setHostnameAsFQDN=True), node_name="n", dns=conf)
    assert fqdn["hostname"] == "w.s.shop.svc.cluster.local" and "domainname" not in fqdn
    plain = sandbox_config(pod(), node_name="n", dns=conf)
    assert plain["hostname"] == "web-1" and "domainname" not in plain
