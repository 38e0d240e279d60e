"""The cluster's PKI: one CA, the certificates it signs, and where they live on disk.

As kubeadm lays it out: a CA (``ca.crt``/``ca.key``) that the apiserver trusts for
client certificates and every client trusts for the apiserver's serving certificate;
the serving certificate names every address a client may dial (127.0.0.1, localhost,
this host's addresses, the `kubernetes` Service's ClusterIP and DNS names); a client
certificate says who its holder is: CN is the user's name, each O one of its groups
(``CN=kubernetes-admin, O=system:masters`` is the admin). Read one with
``openssl x509 -noout -subject -in <file>``.

Keys are ECDSA P-256 (kubeadm's ``encryptionAlgorithm: ECDSA-P256``): as safe as RSA
2048 for this and about a hundred times quicker to make, which `up` and tests notice.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "kubernetes"            # kubeadm's CA common name
CA_DAYS = 3650
CERT_DAYS = 365
# the names of the `kubernetes` Service in every cluster (kubeadm's apiserver SANs)
SERVICE_DNS_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local")


@dataclass
class KeyPair:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def write(self, directory: str, name: str) -> tuple[str, str]:
        """Write ``name.crt`` and ``name.key`` (the key readable by its owner only)."""
        os.makedirs(directory, exist_ok=True)
        crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
        with open(crt, "wb") as f:
            f.write(self.cert_pem())
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key_pem())
        return crt, key


def read(directory: str, name: str) -> KeyPair:
    with open(os.path.join(directory, name + ".crt"), "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(directory, name + ".key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return KeyPair(cert, key)


def _name(common_name: str, organizations=()) -> x509.Name:
    return x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))    # a little clock skew
            .not_valid_after(now + datetime.timedelta(days=days)))


def new_ca(common_name: str = CA_NAME, days: int = CA_DAYS) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (_builder(name, name, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(cert, key)


def _signed(ca: KeyPair, subject: x509.Name, usages: list, sans: list | None, days: int) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(subject, ca.cert.subject, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                            content_commitment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=False, crl_sign=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                              critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return KeyPair(builder.sign(ca.key, hashes.SHA256()), key)


def client_cert(ca: KeyPair, user: str, groups=(), days: int = CERT_DAYS) -> KeyPair:
    """A client certificate: CN=user, O=each group (how the apiserver reads it, auth/authenticator.py)."""
    return _signed(ca, _name(user, groups), [ExtendedKeyUsageOID.CLIENT_AUTH], None, days)


def serving_cert(ca: KeyPair, common_name: str, hosts, days: int = CERT_DAYS) -> KeyPair:
    """A server certificate valid for each of `hosts` (IP addresses and DNS names)."""
    sans = []
    for host in dict.fromkeys(hosts):             # in order, once each
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    return _signed(ca, _name(common_name), [ExtendedKeyUsageOID.SERVER_AUTH], sans, days)


def host_addresses() -> list[str]:
    """This machine's own addresses (what a client elsewhere may dial), loopback first."""
    found = ["127.0.0.1", "::1"]
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            for info in socket.getaddrinfo(name, None):
                found.append(info[4][0].split("%")[0])
        except OSError:
            pass
    try:                                          # the address of the default route
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            found.append(s.getsockname()[0])
    except OSError:
        pass
    return list(dict.fromkeys(found))


def apiserver_hosts(service_ip: str, extra=()) -> list[str]:
    """Every name the apiserver is reached by: loopback, this host, the `kubernetes` Service."""
    return ["localhost", socket.gethostname(), *SERVICE_DNS_NAMES, service_ip, *host_addresses(), *extra]


def subject_of(cert: x509.Certificate) -> tuple[str, tuple[str, ...]]:
    """(CN, the Os): who a client certificate says its holder is."""
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (cn[0].value if cn else ""), tuple(o.value for o in orgs)


# ----------------------------------------------------------------- a cluster's files
def ensure_ca(directory: str) -> KeyPair:
    """The CA in `directory` (ca.crt, ca.key), made on first use."""
    if os.path.exists(os.path.join(directory, "ca.crt")):
        return read(directory, "ca")
    ca = new_ca()
    ca.write(directory, "ca")
    return ca


def ensure_serving(directory: str, name: str, common_name: str, hosts) -> tuple[str, str]:
    """name.crt/.key for a server reached by `hosts`; kept while it still names them all."""
    path = os.path.join(directory, name + ".crt")
    if os.path.exists(path):
        cert = read(directory, name).cert
        try:
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            have = {str(v) for v in names.get_values_for_type(x509.IPAddress)} | \
                set(names.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            have = set()
        if set(hosts) <= have:
            return path, os.path.join(directory, name + ".key")
    return serving_cert(ensure_ca(directory), common_name, hosts).write(directory, name)


def ensure_client(directory: str, name: str, user: str, groups=()) -> tuple[str, str]:
    """name.crt/.key: a client certificate for `user` in `groups`, made on first use."""
    path = os.path.join(directory, name + ".crt")
    if os.path.exists(path) and subject_of(read(directory, name).cert) == (user, tuple(groups)):
        return path, os.path.join(directory, name + ".key")
    return client_cert(ensure_ca(directory), user, groups).write(directory, name)
