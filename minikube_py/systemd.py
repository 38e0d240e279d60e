"""Telling systemd a component is ready (``Type=notify`` units in lab/systemd/).

With ``Type=notify`` systemd starts the units ordered after this one only when the
process says ``READY=1`` on the socket systemd names in ``$NOTIFY_SOCKET`` - not
merely when it was forked. So "the apiserver is up" means "it listens", and the
controller-manager (``After=minikube-py-apiserver.service``) never starts against a
port that is not open yet. etcd speaks the same protocol itself.

Outside systemd ``$NOTIFY_SOCKET`` is unset and these calls do nothing, so every
component calls them unconditionally once it serves. The `sdnotify` package is the
whole protocol (one datagram per call); we use it rather than keep a copy.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def notify_ready(status: str = "") -> bool:
    """Send READY=1 (and a STATUS= line `systemctl status` shows). True when sent."""
    return _notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def notify_stopping() -> bool:
    """Send STOPPING=1: the unit is shutting down on purpose (not a crash)."""
    return _notify("STOPPING=1")


def _notify(message: str) -> bool:
    if not os.environ.get("NOTIFY_SOCKET"):
        return False
    import sdnotify
    sdnotify.SystemdNotifier().notify(message)   # it swallows socket errors itself
    log.debug("sd_notify: %s", message.replace("\n", "; "))
    return True
