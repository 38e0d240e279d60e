"""Container runtimes of the kubelet.

``base`` holds what every runtime shares (labels, names, errors, ContainerInfo);
``docker`` runs pods as real containers through the Docker SDK; ``hollow``
only pretends to (kubemark-style nodes for scale tests).
"""

from .base import (  # noqa: F401
    ContainerInfo, ContainerNotFound, ContainerRuntimeError, ContainerStartError,
    ExecTimeout, ImageError, RuntimeUnavailable,
)
