"""kubeconfig: search order, parsing, and a file the real kubectl accepts."""

import base64
import os
import shutil
import subprocess

import pytest
import yaml

from minikube_py.client.kubeconfig import (ClientConfig, build_kubeconfig, find_kubeconfig,
                                           load_config, write_kubeconfig)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return tmp_path


def test_round_trip(home):
    path = write_kubeconfig(str(home / "kc"), "http://127.0.0.1:7443")
    cfg = load_config(path)
    assert cfg == ClientConfig(server="http://127.0.0.1:7443", token=None, verify=True,
                               cert=None, namespace="default")
    assert os.stat(path).st_mode & 0o077 == 0  # may hold a token: owner only
    doc = yaml.safe_load(open(path))
    assert doc["current-context"] == "minikube-py"
    assert doc["contexts"][0]["context"] == {"cluster": "minikube-py", "user": "minikube-py",
                                             "namespace": "default"}


def test_round_trip_with_token_and_name(home):
    path = write_kubeconfig(str(home / "sub" / "kc"), "https://k:6443/", name="lab",
                            token="s3cret", insecure_skip_tls_verify=True)
    cfg = load_config(path)
    assert cfg.server == "https://k:6443"
    assert cfg.token == "s3cret"
    assert cfg.verify is False


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl not installed")
def test_real_kubectl_accepts_written_file(home):
    path = write_kubeconfig(str(home / "kc"), "http://127.0.0.1:7443", token="t0k")
    out = subprocess.run(["kubectl", "--kubeconfig", path, "config", "view", "-o", "json"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    import json
    view = json.loads(out.stdout)
    assert view["current-context"] == "minikube-py"
    assert view["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:7443"
    ctx = subprocess.run(["kubectl", "--kubeconfig", path, "config", "current-context"],
                         capture_output=True, text=True, timeout=30)
    assert ctx.stdout.strip() == "minikube-py"


def test_search_order(home, monkeypatch):
    assert find_kubeconfig() is None
    assert load_config().server == "http://127.0.0.1:6443"  # nothing found: local default

    kube = write_kubeconfig(str(home / ".kube" / "config"), "http://kube:1")
    assert find_kubeconfig() == kube
    mine = write_kubeconfig(str(home / ".minikube-py" / "kubeconfig"), "http://mine:2")
    assert find_kubeconfig() == mine
    env = write_kubeconfig(str(home / "env-kc"), "http://env:3")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(home / "missing"), env]))
    assert load_config().server == "http://env:3"
    explicit = write_kubeconfig(str(home / "explicit"), "http://explicit:4")
    assert load_config(explicit).server == "http://explicit:4"


def test_current_context_selects_cluster_and_user(home):
    doc = {
        "clusters": [
            {"name": "a", "cluster": {"server": "https://a:6443", "certificate-authority": "ca.crt"}},
            {"name": "b", "cluster": {"server": "https://b:6443",
                                      "certificate-authority-data":
                                          base64.b64encode(b"PEM-B").decode()}},
        ],
        "users": [
            {"name": "ua", "user": {"token": "tok-a"}},
            {"name": "ub", "user": {"client-certificate": "/abs/c.crt",
                                    "client-key": "k.key"}},
        ],
        "contexts": [
            {"name": "ca", "context": {"cluster": "a", "user": "ua"}},
            {"name": "cb", "context": {"cluster": "b", "user": "ub", "namespace": "team"}},
        ],
        "current-context": "cb",
    }
    path = home / "cfg"
    path.write_text(yaml.safe_dump(doc))
    cfg = load_config(str(path))
    assert cfg.server == "https://b:6443"
    assert cfg.namespace == "team"
    assert open(cfg.verify, "rb").read() == b"PEM-B"  # inline CA written to a file
    assert cfg.cert == ("/abs/c.crt", str(home / "k.key"))  # relative to the kubeconfig
    assert cfg.token is None

    cfg_a = load_config(str(path), context="ca")
    assert cfg_a.server == "https://a:6443"
    assert cfg_a.verify == str(home / "ca.crt")
    assert cfg_a.token == "tok-a"


def test_build_kubeconfig_shape():
    doc = build_kubeconfig("http://s:1", name="x")
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Config"
    assert [c["name"] for c in doc["clusters"]] == ["x"]
    assert [u["name"] for u in doc["users"]] == ["x"]
