"""The cluster DNS answers (records.answer) for a small cluster held in dicts."""
from dnslib import QTYPE, RCODE, RR, DNSRecord

from minikube_py.dns.forward import Forwarder, read_nameservers
from minikube_py.dns.records import answer


def svc(name, ns="default", cluster_ip="10.96.0.20", ports=None, **spec):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": cluster_ip, "ports": ports or [{"name": "http", "port": 80,
                                                                  "protocol": "TCP"}], **spec}}


def ep(name, addresses, ports, ns="default", not_ready=()):
    return {"metadata": {"name": name, "namespace": ns},
            "subsets": [{"addresses": addresses, "notReadyAddresses": list(not_ready), "ports": ports}]}


class View:
    def __init__(self, services, endpoints):
        self.svcs = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services}
        self.eps = {(e["metadata"]["namespace"], e["metadata"]["name"]): e for e in endpoints}

    def service(self, ns, name):
        return self.svcs.get((ns, name))

    def endpoints(self, ns, name):
        return self.eps.get((ns, name))

    def has_namespace(self, ns):
        return any(k[0] == ns for k in self.svcs)

    def services_by_ip(self, ip):
        return [s for s in self.svcs.values() if s["spec"].get("clusterIP") == ip]

    def endpoints_by_ip(self, ip):
        return [e for e in self.eps.values() if any(a["ip"] == ip for s in e["subsets"]
                                                     for a in s["addresses"])]


VIEW = View(
    [svc("nginx"), svc("kubernetes", cluster_ip="10.96.0.1", ports=[{"name": "https", "port": 443}]),
     svc("tfjob-svc", ns="ml", cluster_ip="None", ports=[{"name": "grpc", "port": 2222, "protocol": "TCP"}]),
     svc("empty", ns="ml", cluster_ip="None"),
     svc("ext", type="ExternalName", externalName="example.com", cluster_ip=None)],
    [ep("tfjob-svc", [{"ip": "10.1.0.5", "hostname": "tf-worker-0"}, {"ip": "10.1.0.6"}],
        [{"name": "grpc", "port": 2222, "protocol": "TCP"}], ns="ml", not_ready=[{"ip": "10.1.0.7"}]),
     ep("empty", [], [], ns="ml", not_ready=[{"ip": "10.1.0.9"}])])


def ask(name, qtype="A", forward=None):
    reply = answer(DNSRecord.question(name, qtype), VIEW, forward=forward)
    return reply, [(str(rr.rname).rstrip("."), QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr]


def test_a_service_name_is_its_cluster_ip():
    reply, rrs = ask("nginx.default.svc.cluster.local")
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa
    assert rrs == [("nginx.default.svc.cluster.local", "A", "10.96.0.20")]
    assert reply.rr[0].ttl == 30
    assert ask("KUBERNETES.default.svc.cluster.local.")[1][0][2] == "10.96.0.1"     # case-insensitive


def test_unknown_names_in_the_zone_are_nxdomain_and_known_ones_without_records_nodata():
    for name in ("nope.default.svc.cluster.local", "nginx.other.svc.cluster.local",
                 "nginx.default.svc.cluster.local.default.svc.cluster.local", "x.cluster.local",
                 "a.b.c.nginx.default.svc.cluster.local"):
        reply, rrs = ask(name)
        assert reply.header.rcode == RCODE.NXDOMAIN and rrs == [], name
        assert QTYPE[reply.auth[0].rtype] == "SOA"
    reply, rrs = ask("nginx.default.svc.cluster.local", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and rrs == [] and reply.auth
    assert ask("default.svc.cluster.local")[0].header.rcode == RCODE.NOERROR
    assert ask("cluster.local", "SOA")[1][0][1] == "SOA"


def test_a_headless_service_is_its_ready_pods_and_each_has_a_name():
    _, rrs = ask("tfjob-svc.ml.svc.cluster.local")
    assert sorted(r[2] for r in rrs) == ["10.1.0.5", "10.1.0.6"]            # not the not-ready one
    assert ask("tf-worker-0.tfjob-svc.ml.svc.cluster.local")[1] == [
        ("tf-worker-0.tfjob-svc.ml.svc.cluster.local", "A", "10.1.0.5")]
    assert ask("10-1-0-6.tfjob-svc.ml.svc.cluster.local")[1][0][2] == "10.1.0.6"
    assert ask("tf-worker-9.tfjob-svc.ml.svc.cluster.local")[0].header.rcode == RCODE.NXDOMAIN
    assert ask("empty.ml.svc.cluster.local")[0].header.rcode == RCODE.NXDOMAIN   # no ready endpoints


def test_srv_records_for_named_ports():
    reply, rrs = ask("_http._tcp.nginx.default.svc.cluster.local", "SRV")
    assert rrs == [("_http._tcp.nginx.default.svc.cluster.local", "SRV", "0 100 80 nginx.default.svc.cluster.local.")]
    assert str(reply.ar[0].rdata) == "10.96.0.20"
    reply, rrs = ask("_grpc._tcp.tfjob-svc.ml.svc.cluster.local", "SRV")
    assert sorted(r[2] for r in rrs) == ["0 50 2222 10-1-0-6.tfjob-svc.ml.svc.cluster.local.",
                                         "0 50 2222 tf-worker-0.tfjob-svc.ml.svc.cluster.local."]
    assert sorted(str(rr.rdata) for rr in reply.ar) == ["10.1.0.5", "10.1.0.6"]
    assert ask("_grpc._udp.tfjob-svc.ml.svc.cluster.local", "SRV")[0].header.rcode == RCODE.NXDOMAIN
    assert ask("_nope._tcp.nginx.default.svc.cluster.local", "SRV")[0].header.rcode == RCODE.NXDOMAIN


def test_external_name_pods_and_ptr():
    assert ask("ext.default.svc.cluster.local")[1] == [("ext.default.svc.cluster.local", "CNAME", "example.com.")]
    assert ask("10-1-2-3.default.pod.cluster.local")[1][0][2] == "10.1.2.3"
    assert ask("20.0.96.10.in-addr.arpa", "PTR")[1] == [
        ("20.0.96.10.in-addr.arpa", "PTR", "nginx.default.svc.cluster.local.")]
    assert ask("5.0.1.10.in-addr.arpa", "PTR")[1][0][2] == "tf-worker-0.tfjob-svc.ml.svc.cluster.local."


def test_other_names_are_forwarded_refused_without_upstream_servfail_when_it_fails():
    assert ask("example.com")[0].header.rcode == RCODE.REFUSED
    assert ask("example.com", forward=lambda q: None)[0].header.rcode == RCODE.SERVFAIL

    def upstream(q):
        r = q.reply()
        r.add_answer(*RR.fromZone("example.com. 60 A 93.184.216.34"))
        return r
    assert ask("example.com", forward=upstream)[1] == [("example.com", "A", "93.184.216.34")]
    assert ask("99.99.99.99.in-addr.arpa", "PTR")[0].header.rcode == RCODE.REFUSED   # not a cluster IP


def test_forwarder_skips_itself_and_reads_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.org\nnameserver 10.0.0.2\nnameserver 127.0.0.1\noptions ndots:1\n")
    assert read_nameservers(str(conf)) == ["10.0.0.2", "127.0.0.1"]
    assert Forwarder(read_nameservers(str(conf)), exclude=[("127.0.0.1", 53)]).servers == [("10.0.0.2", 53)]
    assert not Forwarder([])
