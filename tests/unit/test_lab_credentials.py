"""The compose lab's PKI (lab/compose/credentials.py, its `pki` service): the names the
apiservers are dialled by, who each component is, one ServiceAccount key, and a host
kubeconfig that stands alone (the certificates inline). The lab itself: tests/lab/."""
from __future__ import annotations

import importlib.util
import os

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from minikube_py.apiserver.auth import pki
from minikube_py.client.kubeconfig import parse_kubeconfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("lab_credentials", os.path.join(ROOT, "lab/compose/credentials.py"))
credentials = importlib.util.module_from_spec(spec)
spec.loader.exec_module(credentials)


def sans(cert: x509.Certificate) -> set[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.IPAddress)} | set(names.get_values_for_type(x509.DNSName))


def test_every_component_has_its_identity_signed_by_one_ca(tmp_path):
    state = str(tmp_path / "etc-kubernetes")
    credentials.make(state, "https://127.0.0.1:16443")
    ca = pki.read(os.path.join(state, "pki"), "ca")
    serving = pki.read(os.path.join(state, "pki"), "apiserver").cert
    assert {"apiserver", "apiserver-1", "apiserver-2", "localhost", "127.0.0.1", "10.96.0.1",
            "kubernetes.default.svc"} <= sans(serving)
    for n in (1, 2, 3):                       # the kubelets' API, at their fixed addresses
        kubelet = pki.read(os.path.join(state, "pki"), f"kubelet-lab-node-{n}-serving").cert
        kubelet.verify_directly_issued_by(ca.cert)
        assert sans(kubelet) == {f"10.245.200.1{n}", "localhost", f"lab-node-{n}"}
    who = {}
    for conf in sorted(os.listdir(os.path.join(state, "kubeconfigs"))):
        doc = yaml.safe_load(open(os.path.join(state, "kubeconfigs", conf)))
        cfg = parse_kubeconfig(doc)
        cert = x509.load_pem_x509_certificate(open(cfg.cert[0], "rb").read())
        cert.verify_directly_issued_by(ca.cert)
        assert cfg.verify == os.path.join(state, "pki", "ca.crt")
        who[conf] = (cfg.server, pki.subject_of(cert))
    assert who == {
        "controller-manager.conf": ("https://apiserver:6443", ("system:kube-controller-manager", ())),
        "dashboard.conf": ("https://apiserver:6443", ("system:minikube-py:dashboard", ())),
        "dns.conf": ("https://apiserver:6443", ("system:coredns", ())),
        "kube-proxy.conf": ("https://127.0.0.1:16443", ("system:kube-proxy", ())),   # host network
        "kubelet-lab-node-1.conf": ("https://apiserver:6443", ("system:node:lab-node-1", ("system:nodes",))),
        "kubelet-lab-node-2.conf": ("https://apiserver:6443", ("system:node:lab-node-2", ("system:nodes",))),
        "kubelet-lab-node-3.conf": ("https://apiserver:6443", ("system:node:lab-node-3", ("system:nodes",))),
        "scheduler.conf": ("https://apiserver:6443", ("system:kube-scheduler", ())),
    }
    assert isinstance(load_pem_private_key(open(os.path.join(state, "sa.key"), "rb").read(), None),
                      rsa.RSAPrivateKey)
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)


def test_a_second_run_keeps_the_cluster(tmp_path):
    """`docker-compose up -d` again on the same volume: the same CA, certificates, SA key."""
    state = str(tmp_path / "s")
    credentials.make(state, "https://127.0.0.1:16443")
    files = {f: open(os.path.join(d, f), "rb").read() for d, _, fs in os.walk(state) for f in fs}
    credentials.make(state, "https://127.0.0.1:16443")
    assert files == {f: open(os.path.join(d, f), "rb").read() for d, _, fs in os.walk(state) for f in fs}


def test_the_host_kubeconfig_stands_alone(tmp_path):
    creds = credentials.make(str(tmp_path / "s"), "https://127.0.0.1:16443")
    path = str(tmp_path / "host" / "kubeconfig")
    os.makedirs(os.path.dirname(path))
    credentials.host_kubeconfig(creds, path, ["16443", "16444"])
    assert os.stat(path).st_mode & 0o777 == 0o600
    doc = yaml.safe_load(open(path))
    assert all(set(c["cluster"]) == {"server", "certificate-authority-data"} for c in doc["clusters"])
    assert set(doc["users"][0]["user"]) == {"client-certificate-data", "client-key-data"}   # no paths
    one, two = parse_kubeconfig(doc), parse_kubeconfig(doc, context="minikube-py-lab-2")
    assert (one.server, two.server) == ("https://127.0.0.1:16443", "https://127.0.0.1:16444")
    assert open(one.verify, "rb").read() == open(creds.ca_file, "rb").read()
    cert = x509.load_pem_x509_certificate(open(one.cert[0], "rb").read())
    assert pki.subject_of(cert) == ("kubernetes-admin", ("system:masters",))
