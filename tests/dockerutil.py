"""Listing containers while kubelets create and remove them.

The Docker SDK lists ids, then inspects each one; a container removed in between makes
the whole call raise NotFound. Tests list again instead.
"""
from __future__ import annotations

import docker


def list_containers(client, attempts: int = 10, **kwargs):
    for _ in range(attempts - 1):
        try:
            return client.containers.list(**kwargs)
        except docker.errors.NotFound:
            continue
    return client.containers.list(**kwargs)
