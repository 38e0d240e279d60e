"""The TFJob CRD (crd.yaml, next to this module): install it, wait until it is served.

`minikube-py up` installs it before starting the operator, as Kubeflow's manifests
install the CRD before the training operator's Deployment; the operator only waits
for it (it never writes CRDs itself).
"""
from __future__ import annotations

import os
import time

import yaml

from ...api.conditions import is_true
from ...client import errors

CRD_PATH = os.path.join(os.path.dirname(__file__), "crd.yaml")
CRD_NAME = "tfjobs.kubeflow.org"
CRD_RESOURCE = "customresourcedefinitions"


def load_crd() -> dict:
    with open(CRD_PATH) as f:
        return yaml.safe_load(f)


def install_crd(client) -> dict:
    """Create the CRD, or bring a stored one up to this file's spec (idempotent)."""
    crd = load_crd()
    try:
        return client.create(CRD_RESOURCE, crd)
    except errors.AlreadyExists:
        current = client.get(CRD_RESOURCE, CRD_NAME)
        if current.get("spec") == crd["spec"]:
            return current
        return client.update(CRD_RESOURCE, dict(current, spec=crd["spec"]))


def wait_established(client, timeout: float = 60.0, poll: float = 0.5) -> bool:
    """True once the CRD is Established (the apiserver serves tfjobs); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if is_true(client.get(CRD_RESOURCE, CRD_NAME), "Established"):
                return True
        except (errors.NotFound, errors.ApiError):
            pass
        except Exception:           # the apiserver is not up yet
            pass
        time.sleep(poll)
    return False
