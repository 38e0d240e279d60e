"""Container runtimes of the kubelet.

``base`` holds what every runtime shares (labels, names, errors, ContainerInfo);
``docker`` runs pods as real containers through the Docker SDK.
"""

from .base import (  # noqa: F401
    ContainerInfo, ContainerNotFound, ContainerRuntimeError, ContainerStartError,
    ExecTimeout, ImageError, RuntimeUnavailable,
)
