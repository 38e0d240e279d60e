"""The device manager's checkpoint: which pod's container holds which devices, on disk.

Why: the kubelet may restart while pods keep running. If it forgot that GPU-0
belongs to a running pod it could hand GPU-0 to the next pod too. So every
assignment is written down before the pod may start, and read back at start,
as Kubernetes' kubelet does with /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint.

Shape (JSON)::

    {"kind": "DeviceManagerCheckpoint", "version": 1,
     "data": {"podDeviceEntries": [{"podUID": "...", "containerName": "cuda",
                                    "resourceName": "nvidia.com/gpu",
                                    "deviceIDs": ["GPU-0"],
                                    "allocResp": {"env": {...}, "mounts": [...], ...}}],
              "registeredDevices": {"nvidia.com/gpu": ["GPU-0", "GPU-1"]}},
     "checksum": "sha256:<hex of the canonical JSON of data>"}

Written atomically: to a temporary file in the same directory, flushed to
disk, then renamed over the old one, so a crash leaves the old or the new
checkpoint, never half of one. The checksum catches a file damaged anyway.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

KIND = "DeviceManagerCheckpoint"
VERSION = 1


class CheckpointCorrupt(ValueError):
    """The checkpoint file exists but cannot be trusted."""


def _checksum(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def write_checkpoint(path: str, data: dict) -> None:
    """Replace the checkpoint at ``path`` with ``data``, atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    doc = {"kind": KIND, "version": VERSION, "data": data, "checksum": _checksum(data)}
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)      # make the rename itself durable
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_checkpoint(path: str) -> dict | None:
    """The checkpoint's data, None if there is none; CheckpointCorrupt if it is damaged."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise CheckpointCorrupt(f"{path}: not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND or not isinstance(doc.get("data"), dict):
        raise CheckpointCorrupt(f"{path}: not a {KIND}")
    if doc.get("version") != VERSION:
        raise CheckpointCorrupt(f"{path}: version {doc.get('version')!r}, expected {VERSION}")
    if doc.get("checksum") != _checksum(doc["data"]):
        raise CheckpointCorrupt(f"{path}: checksum mismatch")
    return doc["data"]
