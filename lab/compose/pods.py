"""The compose lab's service `pods`: what the pods' containers belong to (docker-compose.yml).

The pods' containers are the host's, made by the kubelets through the Docker socket; each
kubelet labels them as one-off containers of this service (`--container-labels
com.docker.compose.project=...,com.docker.compose.service=pods,com.docker.compose.oneoff=True`).
The kubelets depend on `pods`, so Compose stops them first and this service after them.

This waits. When it is stopped (SIGTERM: `stop`, `down`), it stops every container so labelled
(at most 10 s each, Compose's own default, less when its pod's grace period is shorter) and
removes it, then exits: Compose v2's `down` removes only the services' own containers (one-off
ones only with --remove-orphans), and the pods sit on the lab's network, which `down` could not
remove while they exist. docker-compose 1.x's `down` also stops and removes one-off containers
itself, at the same time; whichever comes second finds them stopped or gone.

    python3 pods.py minikube-py          # as the service runs it: the Compose project's name
"""
from __future__ import annotations

import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import docker
import docker.errors

from minikube_py.kubelet.runtime.base import LABEL_GRACE_PERIOD

STOP_TIMEOUT_S = 10               # Compose's default for `stop` and `down`


def remove_pods(client: docker.DockerClient, project: str) -> int:
    labels = [f"com.docker.compose.project={project}", "com.docker.compose.service=pods",
              "com.docker.compose.oneoff=True"]
    containers = client.containers.list(all=True, filters={"label": labels})

    def remove(c) -> None:
        try:
            grace = int(c.labels.get(LABEL_GRACE_PERIOD, STOP_TIMEOUT_S))
        except ValueError:
            grace = STOP_TIMEOUT_S
        try:
            c.stop(timeout=max(0, min(grace, STOP_TIMEOUT_S)))
            c.remove(v=True, force=True)
        except docker.errors.NotFound:     # docker-compose 1.x removed it meanwhile
            pass
        except docker.errors.APIError as e:  # e.g. 409: docker-compose 1.x is removing it
            print(f"{c.name}: {e.explanation or e}", flush=True)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(remove, containers))
    return len(containers)


def main(project: str) -> None:
    client = docker.from_env(timeout=60)
    client.ping()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"holding the pods of project {project}; stopping this removes their containers", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    n = remove_pods(client, project)
    print(f"removed {n} containers of the pods", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
