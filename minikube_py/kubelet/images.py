"""Pulling a container's image before it starts, with the events and back-off `kubectl` shows.

Upstream's image manager (``pkg/kubelet/images``, ``EnsureImageExists``): follow
the container's ``imagePullPolicy`` (``Never`` needs the image there,
``IfNotPresent`` pulls only when it is missing, ``Always`` pulls), report
``Pulling``/``Pulled``/``Failed`` events, and after a failed pull wait
(``ImagePullBackOff``, doubling up to the maximum) before trying again.
"""
from __future__ import annotations

import time

from .backoff import Backoff
from .events import container_field_path, pod_ref
from .runtime.base import ImageError


class ImageManager:
    def __init__(self, runtime, recorder, backoff_base: float = 10.0, backoff_max: float = 300.0):
        self.runtime = runtime
        self.recorder = recorder
        self.backoff_base = backoff_base
        self.backoff = Backoff(backoff_base, backoff_max)

    def ensure_image(self, pod: dict, c: dict, st) -> float | None:
        """Pull (or find) the image; None when it is there, else a retry delay.

        ``st`` is the pod's kubelet-side state: ``st.waiting`` gets the container's
        waiting reason, ``st.pull_failed`` remembers when an image's pull failed.
        """
        image, policy = c.get("image", ""), c.get("imagePullPolicy")
        name = c["name"]
        ref = pod_ref(pod, container_field_path(pod, name))
        key = (pod["metadata"]["uid"], name, image)
        try:
            present = self.runtime.image_present(image)
        except ImageError as e:
            st.waiting[name] = (e.reason, e.message)
            self.recorder.warning(ref, "InspectFailed", f"Failed to inspect image \"{image}\": {e.message}")
            return self.backoff_base
        if present and policy in ("IfNotPresent", "Never"):
            self.recorder.normal(ref, "Pulled", f'Container image "{image}" already present on machine')
            return None
        if not present and policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            st.waiting[name] = ("ErrImageNeverPull", msg)
            self.recorder.warning(ref, "ErrImageNeverPull", msg)
            return self.backoff_base
        failed_at = st.pull_failed.get(image)
        if failed_at is not None and self.backoff.in_backoff_since(key, failed_at):
            st.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            self.recorder.normal(ref, "BackOff", f'Back-off pulling image "{image}"')
            return self.backoff.remaining(key, failed_at) + 0.05
        if not present:
            self.recorder.normal(ref, "Pulling", f'Pulling image "{image}"')
        t0 = time.monotonic()
        try:
            self.runtime.ensure_image(image, policy)
        except ImageError as e:
            now = time.time()
            st.pull_failed[image] = now
            self.backoff.next(key, now)
            st.waiting[name] = (e.reason, e.message)
            detail = e.message.split(f'failed to pull image "{image}": ', 1)[-1]
            self.recorder.warning(ref, "Failed", f'Failed to pull image "{image}": {detail}')
            self.recorder.warning(ref, "Failed", f"Error: {e.reason}")
            return self.backoff.remaining(key, now) + 0.05
        st.pull_failed.pop(image, None)
        self.backoff.forget(key)
        if present:
            self.recorder.normal(ref, "Pulled", f'Container image "{image}" already present on machine')
        else:
            self.recorder.normal(ref, "Pulled", f'Successfully pulled image "{image}" in '
                                                f"{time.monotonic() - t0:.3f}s")
        return None
