"""The cluster PKI: who a certificate names, and which addresses a serving certificate covers."""
import ipaddress

from cryptography import x509

from minikube_py.apiserver.auth import pki


def sans(path_dir, name):
    ext = pki.read(path_dir, name).cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ext.get_values_for_type(x509.DNSName), ext.get_values_for_type(x509.IPAddress)


def test_client_certificates_say_cn_user_o_groups_and_are_signed_by_the_ca(tmp_path):
    d = str(tmp_path)
    pki.ensure_client(d, "kubelet-n1", "system:node:n1", ["system:nodes"])
    pair = pki.read(d, "kubelet-n1")
    assert pki.subject_of(pair.cert) == ("system:node:n1", ("system:nodes",))
    assert pair.cert.issuer == pki.read(d, "ca").cert.subject
    pair.cert.verify_directly_issued_by(pki.read(d, "ca").cert)


def test_serving_certificate_names_the_service_and_is_remade_for_new_hosts(tmp_path):
    d = str(tmp_path)
    hosts = pki.apiserver_hosts("10.96.0.1")
    pki.ensure_serving(d, "apiserver", "kube-apiserver", hosts)
    dns, ips = sans(d, "apiserver")
    assert {"localhost", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"} <= set(dns)
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.96.0.1")} <= set(ips)
    first = pki.read(d, "apiserver").cert.serial_number
    pki.ensure_serving(d, "apiserver", "kube-apiserver", hosts)
    assert pki.read(d, "apiserver").cert.serial_number == first          # kept: nothing new
    pki.ensure_serving(d, "apiserver", "kube-apiserver", hosts + ["192.0.2.7"])
    assert ipaddress.ip_address("192.0.2.7") in sans(d, "apiserver")[1]   # remade, same CA
    pki.read(d, "apiserver").cert.verify_directly_issued_by(pki.read(d, "ca").cert)
