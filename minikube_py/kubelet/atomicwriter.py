"""Writing a volume's files so that a running container sees all old or all new, never a mix.

configMap, secret, downwardAPI and projected volumes are directories the
kubelet fills with files, and updates while the pod runs.  A program reading
two keys must never see one old and one new, so the kubelet (upstream's
``AtomicWriter``, pkg/volume/util/atomic_writer.go) lays a volume out as::

    <volume>/..2024_05_01_10_00_00.1234/      the files of one version (timestamped)
    <volume>/..data -> ..2024_05_01_10_00_00.1234
    <volume>/game.properties -> ..data/game.properties     (what the user sees)

An update writes a new timestamped directory, then renames a fresh ``..data_tmp``
symlink over ``..data`` -- one ``rename(2)``, atomic -- and removes the old
directory.  The user-visible names are relative symlinks, so they resolve inside
the container too.  Nothing is written when the files are already right.

A *payload* is ``{relative path: (bytes, mode)}``.
"""
from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"
MAX_PATH = 4096
MAX_PATH_ELEMENT = 255


class PayloadError(ValueError):
    """A payload path the writer refuses (absolute, with '..', too long)."""


def validate_path(path: str) -> None:
    """Upstream's rules: relative, no '..' element, not starting with '..' (that is ours)."""
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > MAX_PATH:
        raise PayloadError(f"invalid path: must be less than or equal to {MAX_PATH} characters")
    if os.path.isabs(path):
        raise PayloadError(f"invalid path: must be relative path: {path}")
    for element in path.split("/"):
        if element == "..":
            raise PayloadError(f"invalid path: must not contain '..': {path}")
        if len(element) > MAX_PATH_ELEMENT:
            raise PayloadError(f"invalid path: must not contain elements longer than "
                               f"{MAX_PATH_ELEMENT} characters: {path}")
    if path.startswith(".."):
        raise PayloadError(f"invalid path: must not start with '..': {path}")


def _clean(payload: dict) -> dict:
    out = {}
    for path, (data, mode) in payload.items():
        validate_path(path)
        out[os.path.normpath(path)] = (bytes(data), int(mode) & 0o7777)
    return out


def read_payload(target_dir: str) -> dict | None:
    """What the volume holds now, as a payload (None: never written)."""
    data_dir = os.path.join(target_dir, DATA_DIR)
    if not os.path.islink(data_dir):
        return None
    out = {}
    for root, _dirs, files in os.walk(data_dir, followlinks=True):
        for f in files:
            full = os.path.join(root, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, data_dir)] = (fh.read(), os.stat(full).st_mode & 0o7777)
    return out


def _top_level(paths) -> set[str]:
    return {p.split("/", 1)[0] for p in paths}


def write(target_dir: str, payload: dict) -> bool:
    """Make ``target_dir`` hold exactly ``payload``; True when something was (re)written.

    Raises PayloadError for a bad path (and writes nothing), OSError for the disk.
    """
    payload = _clean(payload)
    os.makedirs(target_dir, exist_ok=True)
    old = read_payload(target_dir)
    data_link = os.path.join(target_dir, DATA_DIR)
    old_dir = os.readlink(data_link) if old is not None else None
    changed = old != payload
    if changed:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.")
        ts_dir = tempfile.mkdtemp(prefix=stamp, dir=target_dir)
        os.chmod(ts_dir, 0o755)
        for path, (data, mode) in payload.items():
            full = os.path.join(ts_dir, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as fh:
                fh.write(data)
            os.chmod(full, mode)
        tmp_link = os.path.join(target_dir, DATA_DIR_TMP)
        if os.path.lexists(tmp_link):
            os.remove(tmp_link)
        os.symlink(os.path.basename(ts_dir), tmp_link)
        os.rename(tmp_link, data_link)                  # the atomic switch
    # user-visible names: one symlink per top-level element, into ..data
    wanted = _top_level(payload)
    for name in wanted:
        link = os.path.join(target_dir, name)
        if not os.path.islink(link):
            if os.path.lexists(link):
                _remove(link)
            os.symlink(os.path.join(DATA_DIR, name), link)
    for name in _top_level(old or {}) - wanted:
        link = os.path.join(target_dir, name)
        if os.path.islink(link):
            os.remove(link)
    if changed and old_dir:
        shutil.rmtree(os.path.join(target_dir, old_dir), ignore_errors=True)
    return changed


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)
