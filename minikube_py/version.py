"""The version every component reports: the apiserver's /version, the kubelet's NodeInfo.

One place, so the kubelet does not import the apiserver to learn it.
"""
from __future__ import annotations

import platform

KUBERNETES_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-minikube-py",
                      "gitCommit": "minikube-py", "gitTreeState": "clean",
                      "buildDate": "2026-11-29T00:00:00Z", "goVersion": "python" + platform.python_version(),
                      "compiler": "cpython", "platform": f"linux/{platform.machine().replace('x86_64', 'amd64')}"}


def version() -> dict:
    return dict(KUBERNETES_VERSION)
