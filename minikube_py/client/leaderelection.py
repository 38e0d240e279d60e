"""Leader election on a coordination.k8s.io/v1 Lease.

Two controller-managers may run for high availability, but only one may act,
or both would create the same pods.  They agree through one Lease object::

    spec:
      holderIdentity: cm-host-a_3f2c      # who leads
      leaseDurationSeconds: 15            # how long the claim is good for
      acquireTime / renewTime             # MicroTime, e.g. 2026-01-02T03:04:05.123456Z
      leaseTransitions: 3                 # how many times leadership changed

The leader *renews* (rewrites renewTime) every ``retry_period``.  Others may
take the lease only when it is free or has not changed for
``lease_duration``.  Every write carries the resourceVersion that was read,
so if two candidates race, the apiserver accepts one and answers 409
Conflict to the other: etcd's compare-and-swap is the real arbiter.

As in client-go, "has not changed" is measured on *our own* clock from when
we last saw the record change, not by comparing the leader's renewTime with
our clock, so clock skew between machines cannot cause two leaders.  If the
leader cannot renew within ``renew_deadline`` it steps down by itself, before
anyone else could consider the lease expired (renew_deadline < lease_duration).
"""

from __future__ import annotations

import copy
import datetime
import inspect
import logging
import math
import random
import threading
import time
from typing import Callable, Optional

from .errors import AlreadyExists, Conflict, NotFound

log = logging.getLogger(__name__)

LEASES = "leases"


def micro_time(t: Optional[datetime.datetime] = None) -> str:
    """Kubernetes MicroTime: RFC 3339 with microseconds, UTC, ``Z``."""
    t = t or datetime.datetime.now(datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _call(fn: Optional[Callable], *args) -> None:
    """Call a callback with ``args`` if it accepts them, else with none; log failures."""
    if fn is None:
        return
    try:
        inspect.signature(fn).bind(*args)
    except TypeError:
        args = ()  # e.g. ``lambda: ...`` for on_started_leading
    except ValueError:
        pass  # builtins without a signature: just try
    try:
        fn(*args)
    except Exception:
        log.exception("leader election callback %r failed", fn)


class LeaderElector:
    """Campaign for, hold, and give back one Lease.

    ``on_started_leading(stop_event)`` runs in its own thread when we become
    leader; ``stop_event`` is set when leadership ends.  A callback taking no
    arguments is fine too.  ``on_stopped_leading()`` runs when we lose or give
    up the lease.
    """

    def __init__(self, client, namespace: str, name: str, identity: str,
                 lease_duration: float = 15, renew_deadline: float = 10,
                 retry_period: float = 2,
                 on_started_leading: Optional[Callable] = None,
                 on_stopped_leading: Optional[Callable] = None,
                 release_on_cancel: bool = True):
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.release_on_cancel = release_on_cancel

        self._stop = threading.Event()        # stop() was called
        self._leading = threading.Event()     # we hold the lease now
        self._leading_stopped = threading.Event()  # handed to on_started_leading
        self._observed_spec: Optional[dict] = None   # last lease spec we saw
        self._observed_time = 0.0                    # our clock when it last changed
        self._lease: Optional[dict] = None           # last lease object we read/wrote

    @property
    def _duration_seconds(self) -> int:
        """leaseDurationSeconds is an integer; round up so others never wait less."""
        return max(1, math.ceil(self.lease_duration))

    # ------------------------------------------------------------ public API

    def is_leader(self) -> bool:
        return self._leading.is_set()

    def run(self) -> None:
        """Campaign until leader, then renew until the lease is lost or stop() is called.

        An elector runs once: after it stops or loses the lease, make a new one.
        """
        if not self._acquire():
            return  # stopped before we ever led
        self._leading_stopped = threading.Event()
        self._leading.set()
        log.info("%s: became leader of lease %s/%s", self.identity, self.namespace, self.name)
        threading.Thread(target=_call, args=(self.on_started_leading, self._leading_stopped),
                         daemon=True, name="leader-work").start()
        try:
            self._renew_loop()
        finally:
            self._leading.clear()
            self._leading_stopped.set()
            if self._stop.is_set() and self.release_on_cancel:
                self._release()
            log.info("%s: stopped leading lease %s/%s", self.identity, self.namespace, self.name)
            _call(self.on_stopped_leading)

    def start(self) -> threading.Thread:
        """Run the election in a daemon thread."""
        t = threading.Thread(target=self.run, daemon=True, name=f"leader-elect-{self.name}")
        t.start()
        return t

    def stop(self) -> None:
        """Stop campaigning; a leader steps down and frees the lease at once."""
        self._stop.set()

    # ------------------------------------------------------------ the loops

    def _jittered(self, period: float) -> float:
        """Wait a little more than ``period`` so candidates do not move in lockstep."""
        return period * (1 + random.random() * 0.2)

    def _acquire(self) -> bool:
        while not self._stop.is_set():
            if self.try_acquire_or_renew():
                return True
            self._stop.wait(self._jittered(self.retry_period))
        return False

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.retry_period):
            deadline = time.monotonic() + self.renew_deadline
            while not self.try_acquire_or_renew():
                if self._stop.is_set():
                    return
                if time.monotonic() >= deadline:
                    log.warning("%s: failed to renew lease %s/%s within %.1fs",
                                self.identity, self.namespace, self.name, self.renew_deadline)
                    return
                self._stop.wait(min(self.retry_period, max(deadline - time.monotonic(), 0.01)))

    # ------------------------------------------------------------ one attempt

    def _observe(self, lease: dict) -> None:
        """Remember the lease; restart the expiry clock if its record changed."""
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = copy.deepcopy(spec)
            self._observed_time = time.monotonic()
        self._lease = lease

    def _held_by_other(self, spec: dict) -> bool:
        holder = spec.get("holderIdentity")
        if not holder or holder == self.identity:
            return False
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        return time.monotonic() < self._observed_time + duration

    def try_acquire_or_renew(self) -> bool:
        """One attempt: create the lease, renew ours, or take an expired one."""
        now = micro_time()
        try:
            lease = self.client.get(LEASES, self.name, namespace=self.namespace)
        except NotFound:
            return self._create(now)
        except Exception as exc:
            log.warning("%s: cannot read lease %s/%s: %s", self.identity,
                        self.namespace, self.name, exc)
            return False

        self._observe(lease)
        spec = dict(lease.get("spec") or {})
        if self._held_by_other(spec):
            return False

        if spec.get("holderIdentity") != self.identity:  # taking over
            spec["acquireTime"] = now
            spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = self._duration_seconds
        spec["renewTime"] = now
        spec.setdefault("acquireTime", now)
        lease = dict(lease, spec=spec)  # metadata.resourceVersion makes the PUT conditional
        try:
            updated = self.client.update(LEASES, lease)
        except Conflict:
            return False  # someone else wrote first; look again next round
        except Exception as exc:
            log.warning("%s: cannot update lease: %s", self.identity, exc)
            return False
        self._observe(updated)
        return True

    def _create(self, now: str) -> bool:
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self._duration_seconds,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        try:
            created = self.client.create(LEASES, lease, namespace=self.namespace)
        except (AlreadyExists, Conflict):
            return False
        except Exception as exc:
            log.warning("%s: cannot create lease: %s", self.identity, exc)
            return False
        self._observe(created)
        return True

    def _release(self) -> None:
        """Give the lease up so a standby need not wait for it to expire."""
        lease = self._lease
        if not lease or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        spec = dict(lease["spec"], holderIdentity="", leaseDurationSeconds=1,
                    renewTime=micro_time())
        try:
            self.client.update(LEASES, dict(lease, spec=spec))
        except Exception as exc:  # best effort: the lease expires anyway
            log.info("%s: could not release lease: %s", self.identity, exc)
