"""The proxy loop: informers -> a rate-limited full sync -> the rule builder -> the applier.

As kube-proxy's syncProxyRules: every Service or Endpoints event only *asks* for a
sync; the sync itself reads the whole informer caches and rebuilds every rule
(level-triggered: whatever happened in between, the result is what the caches say
now). Syncs are at least ``min_sync_period`` apart (a burst of 100 endpoint changes
costs one or two syncs, not 100) and at most ``sync_period`` apart (the periodic
sync repairs rules someone else flushed).

Only the holder of the host lock (hostlock.py) applies anything; the other proxies
of the host stand by with warm caches.
"""
from __future__ import annotations

import logging
import threading
import time

from ..client.informer import Informer
from . import iptables, rules
from .hostlock import HostLock
from .userspace import NodePortRelay

log = logging.getLogger(__name__)

MODE_IPTABLES = "iptables"
MODE_USERSPACE = "userspace"


class Proxier:
    def __init__(self, client, *, node_name: str, mode: str = MODE_IPTABLES, cluster_cidr: str = "",
                 masquerade_all: bool = False, min_sync_period: float = 0.5,
                 sync_period: float = 30.0, lock: HostLock | None = None,
                 nodeport_address: str = "0.0.0.0"):
        self.client = client
        self.node_name = node_name
        self.mode = mode
        self.cluster_cidr = cluster_cidr
        self.masquerade_all = masquerade_all
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.lock = lock or HostLock({"node": node_name, "server": client.server})
        self.services = Informer(client, "services")
        self.endpoints = Informer(client, "endpoints")
        self.relay = NodePortRelay(nodeport_address) if mode == MODE_USERSPACE else None
        self.syncs = 0
        self.last_sync_seconds = 0.0
        self._last_text = ""
        self._last_apply = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="proxy-sync")
        for inf in (self.services, self.endpoints):
            inf.add_handler(on_add=lambda _o: self.request_sync(),
                            on_update=lambda _a, _b: self.request_sync(),
                            on_delete=lambda _o: self.request_sync())

    # ------------------------------------------------------------ life
    def start(self, sync_timeout: float = 30.0) -> "Proxier":
        self.services.start()
        self.endpoints.start()
        if not (self.services.wait_for_sync(sync_timeout) and self.endpoints.wait_for_sync(sync_timeout)):
            log.warning("informers not synced after %.0fs; syncing when they are", sync_timeout)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.services.stop()
        self.endpoints.stop()
        if self.relay:
            self.relay.close()
        self.lock.release()

    def request_sync(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------ loop
    def _loop(self) -> None:
        last, standby_logged = 0.0, False
        while not self._stop.is_set():
            if not self.lock.try_acquire():
                if not standby_logged:
                    log.info("standing by: the kube-proxy of %s programs this host's rules",
                             self.lock.holder() or "another process")
                    standby_logged = True
                self._stop.wait(1.0)
                continue
            if standby_logged:
                log.info("took over programming this host's rules")
                standby_logged = False
                self._last_text = ""              # a fresh holder applies in full
            wait = self.min_sync_period - (time.monotonic() - last)
            if wait > 0 and self._stop.wait(wait):
                break
            if not (self.services.has_synced() and self.endpoints.has_synced()):
                self._stop.wait(0.2)
                continue
            self._wake.clear()
            last = time.monotonic()
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - a failed sync is retried, the proxy lives on
                log.exception("sync failed; retrying")
                self._last_text = ""
                self._wake.set()
            self._wake.wait(self.sync_period)

    def sync(self) -> None:
        """One full sync from the informers' caches."""
        started = time.monotonic()
        ports = rules.service_ports(self.services.list(), self.endpoints.list())
        if self.mode == MODE_USERSPACE:
            self.relay.update(ports)
        else:
            periodic = time.monotonic() - self._last_apply >= self.sync_period
            existing = iptables.existing_chains()
            text = rules.build(ports, cluster_cidr=self.cluster_cidr, masquerade_all=self.masquerade_all,
                               existing_chains=tuple(existing.get("nat", ())))
            if text != self._last_text or periodic:
                iptables.apply(text)
                self._last_text, self._last_apply = text, time.monotonic()
        self.syncs += 1
        self.last_sync_seconds = time.monotonic() - started
        log.debug("synced %d service ports in %.3fs", len(ports), self.last_sync_seconds)
