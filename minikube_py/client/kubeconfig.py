"""Kubeconfig: where a client finds the apiserver and how it proves who it is.

A kubeconfig file (the same YAML that ``kubectl`` reads) has three lists --
``clusters`` (server URL, CA), ``users`` (token, client certificate) and
``contexts`` (a cluster + a user + a default namespace) -- and a
``current-context`` that picks one context.  Every component of minikube-py
reads it the same way, so the CLI, the controllers and the real kubectl all
talk to the same cluster.

Search order, as in kubectl: an explicit path, then ``$KUBECONFIG`` (the first
existing file of a ``:``-separated list), then ``~/.minikube-py/kubeconfig``,
then ``~/.kube/config``.
"""

from __future__ import annotations

import atexit
import base64
import os
import tempfile
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import yaml

DEFAULT_SERVER = "http://127.0.0.1:6443"

# ``verify`` follows requests' convention: True (system CAs), False (no check)
# or a path to a CA bundle.  ``cert`` is a client certificate file or a
# (cert, key) pair, also as requests expects it.
Verify = Union[bool, str]
Cert = Union[None, str, Tuple[str, str]]


@dataclass
class ClientConfig:
    """Everything the REST client needs to reach one apiserver."""

    server: str = DEFAULT_SERVER
    token: Optional[str] = None
    verify: Verify = True
    cert: Cert = None
    namespace: str = "default"


def default_kubeconfig_paths() -> list[str]:
    """The places searched for a kubeconfig when none is given, in order."""
    paths = []
    env = os.environ.get("KUBECONFIG")
    if env:
        paths.extend(p for p in env.split(os.pathsep) if p)
    paths.append(os.path.expanduser("~/.minikube-py/kubeconfig"))
    paths.append(os.path.expanduser("~/.kube/config"))
    return paths


def find_kubeconfig(path: Optional[str] = None) -> Optional[str]:
    """Return the kubeconfig file to use, or None if there is none."""
    if path:
        return os.path.expanduser(path)
    for candidate in default_kubeconfig_paths():
        if os.path.isfile(candidate):
            return candidate
    return None


def _named(entries, name):
    """kubeconfig lists look like ``[{name: x, cluster: {...}}]``; find one."""
    for entry in entries or []:
        if entry.get("name") == name:
            return entry
    return None


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _file_or_data(section: dict, key: str, base_dir: str) -> Optional[str]:
    """Resolve ``key`` (a file path) or ``key-data`` (base64 content) to a path.

    requests wants file paths, so inline ``*-data`` values are written to a
    private temporary file.  Relative paths are relative to the kubeconfig,
    as kubectl resolves them.
    """
    if section.get(key):
        return os.path.join(base_dir, os.path.expanduser(section[key]))
    data = section.get(key + "-data")
    if data:
        fd, tmp = tempfile.mkstemp(prefix="minikube-py-", suffix=".pem")
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(data))
        atexit.register(_remove_quietly, tmp)   # the key material does not outlive the process
        return tmp
    return None


def parse_kubeconfig(doc: dict, base_dir: str = ".", context: Optional[str] = None) -> ClientConfig:
    """Turn a parsed kubeconfig document into a ClientConfig."""
    doc = doc or {}
    ctx_name = context or doc.get("current-context")
    ctx_entry = _named(doc.get("contexts"), ctx_name)
    if ctx_entry is None and doc.get("contexts"):
        # No (valid) current-context: fall back to the only/first context.
        ctx_entry = doc["contexts"][0]
    ctx = (ctx_entry or {}).get("context", {}) or {}

    cluster = (_named(doc.get("clusters"), ctx.get("cluster")) or {}).get("cluster", {}) or {}
    user = (_named(doc.get("users"), ctx.get("user")) or {}).get("user", {}) or {}

    cfg = ClientConfig(server=cluster.get("server", DEFAULT_SERVER).rstrip("/"))
    cfg.namespace = ctx.get("namespace") or "default"

    if cluster.get("insecure-skip-tls-verify"):
        cfg.verify = False
    else:
        ca = _file_or_data(cluster, "certificate-authority", base_dir)
        cfg.verify = ca if ca else True

    cfg.token = user.get("token")
    if not cfg.token and user.get("tokenFile"):
        with open(os.path.join(base_dir, user["tokenFile"])) as f:
            cfg.token = f.read().strip()

    cert = _file_or_data(user, "client-certificate", base_dir)
    key = _file_or_data(user, "client-key", base_dir)
    if cert and key:
        cfg.cert = (cert, key)
    elif cert:
        cfg.cert = cert
    return cfg


def load_config(path: Optional[str] = None, context: Optional[str] = None) -> ClientConfig:
    """Load the client configuration from a kubeconfig file.

    With no file anywhere, return the default (``http://127.0.0.1:6443``,
    no auth) so a local cluster works out of the box.
    """
    found = find_kubeconfig(path)
    if found is None:
        return ClientConfig()
    with open(found) as f:
        doc = yaml.safe_load(f) or {}
    return parse_kubeconfig(doc, os.path.dirname(os.path.abspath(found)), context)


def build_kubeconfig(server: str, name: str = "minikube-py", token: Optional[str] = None,
                     namespace: str = "default", certificate_authority: Optional[str] = None,
                     insecure_skip_tls_verify: bool = False, client_certificate: Optional[str] = None,
                     client_key: Optional[str] = None, user_name: Optional[str] = None) -> dict:
    """Build the kubeconfig document for one cluster, one user and one context."""
    cluster: dict = {"server": server}
    if certificate_authority:
        cluster["certificate-authority"] = certificate_authority
    if insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    user: dict = {"token": token} if token else {}
    if client_certificate:
        user["client-certificate"] = client_certificate
        user["client-key"] = client_key
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": user_name or name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user_name or name,
                                                 "namespace": namespace}}],
        "current-context": name,
    }


def write_kubeconfig(path: str, server: str, name: str = "minikube-py", **kwargs) -> str:
    """Write a kubeconfig that mkctl, the Python client and the real kubectl accept.

    The file may hold a token, so it is created readable by its owner only.
    Extra keyword arguments go to :func:`build_kubeconfig`.
    """
    path = os.path.expanduser(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    doc = build_kubeconfig(server, name=name, **kwargs)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, default_flow_style=False, sort_keys=False)
    return path
