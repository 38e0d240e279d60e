"""The Docker runtime's image service (CRI keeps images apart from containers too).

Images: this lab has no registry (images are built locally by
``lab/build-images.sh``), so a pull fails fast.  ``IfNotPresent`` uses the local
image, ``Never`` requires it, and ``Always`` tries to pull and, when the pull
fails, *falls back to the local image* (a real kubelet would report
ErrImagePull).  That keeps manifests with ``image: busybox`` (implicitly
``:latest`` and so ``Always``) working offline.
"""
from __future__ import annotations

import logging
import threading
import time

import docker
import docker.errors

from ...api.defaults import image_pull_policy
from .base import ImageError

log = logging.getLogger(__name__)

PULL_TIMEOUT_S = 10.0
PULL_RETRY_AFTER_S = 300.0  # after a failed pull, use a local image without retrying


class DockerImages:
    """Images on the engine of one ``DockerRuntime`` (its client and its error mapping)."""

    def __init__(self, runtime):
        self.runtime = runtime            # its pull_timeout: how long a pull may take
        self._pull_failed: dict[str, float] = {}     # image -> monotonic time of last failure

    def present(self, image: str) -> bool:
        """Is ``image`` in the engine's local store? (InvalidImageName for a bad reference)."""
        with self.runtime._engine():
            try:
                self.runtime.client.images.get(image)
                return True
            except docker.errors.ImageNotFound:
                return False
            except docker.errors.APIError as e:
                if e.status_code == 400:      # malformed reference
                    raise ImageError("InvalidImageName", str(e.explanation or e)) from e
                raise

    def _pull(self, image: str) -> str | None:
        """Pull with a deadline; None on success, else why it failed.

        The pull runs in a daemon thread so that an unreachable registry can
        never hang a pod worker: after ``pull_timeout`` we stop waiting.
        """
        repo, tag = docker.utils.parse_repository_tag(image)
        result: dict = {}

        def pull():
            try:
                with self.runtime._engine():
                    self.runtime.client.api.pull(repo, tag=tag or "latest")
                result["ok"] = True
            except Exception as e:      # noqa: BLE001 - reported to the caller
                result["error"] = getattr(e, "explanation", None) or str(e)

        t = threading.Thread(target=pull, name=f"pull {image}", daemon=True)
        t.start()
        t.join(self.runtime.pull_timeout)
        if t.is_alive():
            return f"pull timed out after {self.runtime.pull_timeout:g}s"
        return None if result.get("ok") else result.get("error", "unknown error")

    def ensure(self, image: str, pull_policy: str | None = None) -> None:
        """Make sure ``image`` is present, following the pod's imagePullPolicy.

        Raises ImageError with reason ErrImageNeverPull (Never, image missing),
        ErrImagePull (missing and the pull failed) or InvalidImageName.  With
        ``Always`` a failed pull falls back to a local image (see module doc);
        after a failed pull we do not retry it for PULL_RETRY_AFTER_S seconds
        while a local image exists.
        """
        if not image or image != image.strip():
            raise ImageError("InvalidImageName", f"invalid image name {image!r}")
        policy = pull_policy or image_pull_policy(image)
        local = self.present(image)
        if policy == "Never":
            if local:
                return
            raise ImageError("ErrImageNeverPull",
                             f'Container image "{image}" is not present with pull policy of Never')
        if local and policy == "IfNotPresent":
            return
        if local:   # Always
            failed = self._pull_failed.get(image)
            if failed is not None and time.monotonic() - failed < PULL_RETRY_AFTER_S:
                return
        error = self._pull(image)
        if error is None:
            self._pull_failed.pop(image, None)
            return
        self._pull_failed[image] = time.monotonic()
        if local:
            log.info("pull of %s failed (%s); using the local image", image, error)
            return
        hint = " (images are built locally: run lab/build-images.sh)" \
            if image.split(":")[0] in ("busybox", "minikube-py/pause", "registry.k8s.io/pause") else ""
        raise ImageError("ErrImagePull", f'failed to pull image "{image}": {error}{hint}')

    def list(self) -> list[dict]:
        """For NodeStatus.images: ``[{"names": [...], "sizeBytes": n}]``."""
        with self.runtime._engine():
            return [{"names": list(i.get("RepoTags") or []) + list(i.get("RepoDigests") or []),
                     "sizeBytes": i.get("Size", 0)}
                    for i in self.runtime.client.api.images()]
