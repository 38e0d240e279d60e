"""A watch cache per resource, as kube-apiserver's cacher keeps one.

Every kubelet, informer and `kubectl get -w` holds a watch open. If each of them had
its own etcd watch, etcd would do the work N times. Instead the apiserver opens one
etcd watch per resource prefix and fans the events out: the cache keeps a window of
recent events so that a client resuming from resourceVersion N gets every event after
N, and a client asking for history older than the window gets 410 Expired (it then
re-lists, as informers do).

It also keeps every live object of the prefix, encoded once, as the cacher's store
does: a list that asks for ``resourceVersion=0`` (any state) or ``=N`` (not older than
N), what an informer's first list and its re-list after 410 ask, is served from memory
instead of etcd (``snapshot``). At 5,000 hollow nodes each kubelet's list of its pods
(``fieldSelector=spec.nodeName=...``) otherwise decoded every pod in etcd to keep ten.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable, Protocol

from .. import codec
from .store import RevisionCompacted, StoreUnavailable, WatchEvent

log = logging.getLogger(__name__)

# When a cache starts it replays up to this many past revisions from etcd, so clients
# that resume after an apiserver restart usually don't need to re-list.
REPLAY_REVISIONS = 1000


class Sink(Protocol):
    """Where a client watch's events go. The apiserver's sink writes them to the client's socket."""
    key_prefix: str
    trigger_value: str | None   # the value its selector requires of the cache's trigger field

    def push(self, event: WatchEvent | None) -> None:
        """Called under the cache lock, in revision order; None means the stream is over."""

    def idle(self) -> bool:
        """True when everything pushed so far has been delivered."""

    # Optional, for WatchCache.leave (the apiserver's SocketSink has both):
    # push_many(events): push these in order, atomically with respect to detach();
    # detach(): from now on every push is ignored.


class _Registration:
    """A watch waiting to be registered by whoever holds the cache's lock next."""
    __slots__ = ("from_revision", "sink", "done", "error")

    def __init__(self, from_revision: int, sink):
        self.from_revision, self.sink = from_revision, sink
        self.done = threading.Event()
        self.error: BaseException | None = None


# The window of events, as kube-apiserver's cacher sizes it: enough history that a client
# reconnecting within a bookmark interval (a minute) resumes without a 410 -- the events of
# the last 75 s (DefaultEventFreshDuration) -- never fewer than 100 events, and never more
# than CAPACITY. A fixed 20,000 events held 20 minutes of a 5,000-node cluster's Node
# status updates (a copy of each Node every 5 minutes): memory, not history anyone asks for.
FRESH_SECONDS = 75.0
MIN_EVENTS = 100
CAPACITY = 20000


class WatchCache:
    def __init__(self, store, prefix: str, capacity: int = CAPACITY,
                 trigger: Callable[[dict], str] | None = None, keep_state: bool = True,
                 fresh_seconds: float = FRESH_SECONDS, min_events: int = MIN_EVENTS,
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.prefix = prefix
        self.capacity = capacity
        self.fresh_seconds = fresh_seconds
        self.min_events = min_events
        self.clock = clock
        # Watches indexed by the value their selector requires of trigger(object), as
        # kube-apiserver's cacher does for pods with spec.nodeName: a pod's event goes only
        # to the kubelets of its old and new node, not to a selector test by every kubelet.
        self.trigger = trigger
        self.triggered: dict[str, set[Sink]] = {}
        self.events: collections.deque[WatchEvent] = collections.deque()
        self.arrived: collections.deque[float] = collections.deque()    # when each event came
        # The same window by trigger value (an event under its object's and its previous
        # state's values): an indexed watch that registers replays only its value's events,
        # not every event since its revision under the lock (a kubelet's watch, with
        # hundreds of kubelets re-watching while thousands of pods change).
        self.by_trigger: dict[str, collections.deque[WatchEvent]] = {}
        self.window_start = 0          # a watch from resourceVersion >= window_start can be served
        self.last_revision = 0         # newest revision this cache knows the prefix is complete up to
        # last_revision as of the end of the last locked section (every event up to it has
        # been pushed): bookmark_revision reads it without the lock, which hundreds of idle
        # watches asking every 10 s queued up for behind the dispatcher.
        self.bookmarkable = 0
        self.watchers: set[Sink] = set()
        # Every registered watch, with its starting revision: while the cache still replays
        # history from etcd, events a watch asked to start after may yet arrive, and must
        # not reach it.
        self.after: dict[Sink, int] = {}
        self.latest: dict[str, WatchEvent] = {}   # each key's newest event still in the window
        # Watches that ended without the lock (leave): dropped by the next locked section;
        # watches waiting to be registered by it (watch).
        self.leaving: list[Sink] = []
        self.registering: collections.deque = collections.deque()
        # The current state: every live key's newest JSON (shared with its event's bytes
        # while the event is in the window), and by trigger value the keys that have it,
        # so a kubelet's list finds its node's pods without looking at the others.
        # state_from: the revision of the etcd list the state started from (None: no
        # state -- not kept, or lost to a compaction -- and lists go to etcd);
        # state_revision: the state holds every change up to it.
        self.objects: dict[str, bytes] = {}
        self.keys_by_value: dict[str, set[str]] = {}
        self.value_of: dict[str, str] = {}
        # (keep_state=False: the window only, which benchmarks/scale.py measures alone.)
        self.keep_state = keep_state
        self.state_from: int | None = None
        self.state_revision = 0
        self.lock = threading.Lock()
        self._cancel = None
        self._stopped = False

    # --- the one etcd watch ----------------------------------------------------------
    def start(self):
        """Open the etcd watch, replaying recent history when etcd still has it.

        etcd delivers the replayed events in order through the same callback as new ones,
        so a client watch registered at any moment gets every event after its revision:
        either it is already buffered, or it has not arrived yet and will be pushed.
        """
        rev = self.store.current_revision()
        start = max(1, rev - REPLAY_REVISIONS)
        if not self.store.revision_available(start):
            start = self._oldest_available(start, rev)
        if self.keep_state:
            self._load_state()
        try:
            self._cancel = self.store.watch(self.prefix, start, self._on_etcd)
        except RevisionCompacted:
            start = rev + 1
            self._cancel = self.store.watch(self.prefix, start, self._on_etcd)
        with self.lock:
            self.window_start = start - 1
            self.last_revision = max(self.last_revision, rev)
            self.bookmarkable = self.last_revision

    STATE_PAGE = 5000

    def _load_state(self) -> int:
        """Read every object under the prefix from etcd, page by page at one revision (as
        the cacher lists), into the state; return that revision. Events up to it that the
        watch replays go to the window only: the state already has them."""
        objects: dict[str, bytes] = {}
        values: dict[str, str] = {}              # trigger values, read while still decoded
        start, revision = self.prefix, 0
        while True:
            pairs, revision, more, _ = self.store.list_page(self.prefix, start, self.STATE_PAGE, revision)
            for key, obj in pairs:
                objects[key] = codec.dumps_to_keep(obj)
                if self.trigger is not None:
                    values[key] = self.trigger(obj)
            if not more or not pairs:
                break
            start = pairs[-1][0] + "\x00"
        with self.lock:
            self.objects, self.keys_by_value, self.value_of = objects, {}, {}
            for key, value in values.items():
                self._index_value(key, value)
            self.state_from = self.state_revision = revision
        return revision

    def _index_value(self, key: str, value) -> None:
        """Under the lock: file key under its object's trigger value (None: under none)."""
        old = self.value_of.get(key)
        if old == value:
            return
        if old is not None:
            keys = self.keys_by_value[old]
            keys.discard(key)
            if not keys:
                del self.keys_by_value[old]
            del self.value_of[key]
        if value is not None:
            self.keys_by_value.setdefault(value, set()).add(key)
            self.value_of[key] = value

    def _apply_to_state(self, ev: WatchEvent) -> None:
        """Under the lock: one dispatched event into the state (unless the list had it)."""
        if self.state_from is None or ev.revision <= self.state_from:
            return
        if ev.type == "DELETED":
            self.objects.pop(ev.key, None)
            if self.trigger is not None:
                self._index_value(ev.key, None)
        else:
            self.objects[ev.key] = ev.json()
            if self.trigger is not None:
                self._index_value(ev.key, ev.triggers[0] if ev.triggers else None)
        if ev.revision > self.state_revision:
            self.state_revision = ev.revision

    def snapshot(self, key_prefix: str, trigger_value: str | None = None,
                 not_older_than: int = 0) -> tuple[list[bytes], int] | None:
        """The JSON of every live object under key_prefix (only those whose trigger
        value is `trigger_value`, when given), sorted by key as etcd lists them, and the
        revision they are the state at. None when the cache cannot serve it: no state
        yet, or not yet at revision `not_older_than` (the caller then reads etcd)."""
        with self.lock:
            if self.state_from is None or self.state_revision < not_older_than:
                return None
            objects = self.objects
            if trigger_value is not None:
                keys = [k for k in self.keys_by_value.get(trigger_value, ()) if k.startswith(key_prefix)]
            elif key_prefix == self.prefix:
                keys = list(objects)
            else:
                keys = [k for k in objects if k.startswith(key_prefix)]
            found = [(k, objects[k]) for k in keys]
            revision = self.state_revision
        found.sort()
        return [data for _, data in found], revision

    def _oldest_available(self, compacted: int, newest: int) -> int:
        """The oldest revision after `compacted` that etcd still has (newest + 1 if none)."""
        lo, hi = compacted, newest + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.store.revision_available(mid):
                hi = mid
            else:
                lo = mid
        return hi

    def _on_etcd(self, batch):
        if isinstance(batch, Exception):
            self._on_etcd_failure(batch)
            return
        with self.lock:
            # First the watches that left or wait to register: before this batch is in the
            # window, so a new watch gets it once, from the pushes below, not the replay too.
            self._drop_leaving()
            priors = []
            now = self.clock()
            for ev in batch:
                self.events.append(ev)
                self.arrived.append(now)
                priors.append(self.latest.get(ev.key))
                self.latest[ev.key] = ev
                self.last_revision = max(self.last_revision, ev.revision)
            while self._beyond_window(now):
                old = self.events.popleft()
                self.arrived.popleft()
                self.window_start = old.revision
                if self.latest.get(old.key) is old:
                    del self.latest[old.key]
                for value in set(old.triggers or ()):
                    indexed = self.by_trigger.get(value)
                    if indexed and indexed[0] is old:
                        indexed.popleft()
                        if not indexed:
                            del self.by_trigger[value]
            # Pushed under the lock, so that "my queue is empty" and last_revision agree
            # (see bookmark_revision). A sink that can gets the batch's events at once: a
            # watch that ends (leave, without this lock) then has all of them or none, so
            # it never ends with part of a revision (writes grouped in one txn share one).
            after = self.after
            per_sink: dict = {}
            for ev in batch:
                for w in self._watchers_of(ev):
                    if ev.key.startswith(w.key_prefix) and ev.revision > after[w]:
                        per_sink.setdefault(w, []).append(ev)
            for w, events in per_sink.items():
                push_many = getattr(w, "push_many", None)
                if push_many is not None:
                    push_many(events)
                else:
                    for ev in events:
                        w.push(ev)
            # Dispatched: keep the events encoded only (see WatchEvent). An event's
            # previous state is the object of the key's previous event, when that event
            # is still here at the previous state's revision: share its bytes.
            trigger = self.trigger
            for ev, prior in zip(batch, priors):
                prev = ev._prev
                if trigger is not None:
                    ev.triggers = (trigger(ev._object) if ev._object is not None else None,
                                   trigger(prev) if prev is not None else None)
                    for value in set(ev.triggers):
                        if value is not None:
                            self.by_trigger.setdefault(value, collections.deque()).append(ev)
                shared = None
                if prior is not None and prev is not None and \
                        str(prior.revision) == (prev.get("metadata") or {}).get("resourceVersion"):
                    shared = prior.json()
                ev.compact(shared)
                self._apply_to_state(ev)
            self.bookmarkable = self.last_revision

    def _beyond_window(self, now: float) -> bool:
        """(Holding the lock.) Whether the oldest event falls out of the window."""
        n = len(self.events)
        return n > self.capacity or (n > self.min_events and now - self.arrived[0] > self.fresh_seconds)

    def _watchers_of(self, ev):
        """Every watch that may want ev: the unindexed ones, and those of its trigger values."""
        if not self.triggered:
            return self.watchers
        now = self.trigger(ev.object) if ev.object is not None else None
        before = self.trigger(ev.prev_object) if ev.prev_object is not None else None
        targets = list(self.watchers)
        targets.extend(self.triggered.get(now, ()))
        if before != now:
            targets.extend(self.triggered.get(before, ()))
        return targets

    def _on_etcd_failure(self, err: Exception):
        """etcd watch broke: end every client stream (they resume from their last RV) and reopen."""
        log.warning("watch on %s ended: %s", self.prefix, err)
        with self.lock:
            watchers = list(self.after)          # every registered watch, indexed or not
            self.watchers, self.triggered, self.after = set(), {}, {}
            if isinstance(err, RevisionCompacted):
                # History before the compaction is gone: resume at it, and refuse
                # (410) any client that would need the lost events.
                self._clear_window()
                self.state_from = None           # it missed changes: read again on reopen
                self.window_start = max(self.window_start, err.compacted_revision - 1)
                self.last_revision = max(self.last_revision, err.compacted_revision - 1)
                self.bookmarkable = self.last_revision
        for w in watchers:
            w.push(None)
        if self._stopped:
            return
        threading.Thread(target=self._reopen, daemon=True, name=f"watchcache-reopen{self.prefix}").start()

    def _clear_window(self) -> None:
        """(Holding the lock.) Forget every event: history before them is gone."""
        self.events.clear()
        self.arrived.clear()
        self.latest.clear()
        self.by_trigger.clear()

    def _reopen(self):
        delay = 0.2
        while not self._stopped:
            try:
                with self.lock:
                    frm = self.last_revision + 1
                    state_lost = self.keep_state and self.state_from is None
                if not state_lost:
                    try:
                        self._cancel = self.store.watch(self.prefix, frm, self._on_etcd)
                        log.info("watch on %s resumed", self.prefix)
                        return
                    except RevisionCompacted:
                        pass
                # Changes were lost: the state is read again, the window starts anew.
                rev = self._load_state() if self.keep_state else self.store.current_revision()
                with self.lock:
                    self._clear_window()
                    self.window_start = self.last_revision = self.bookmarkable = rev
                self._cancel = self.store.watch(self.prefix, rev + 1, self._on_etcd)
                log.info("watch on %s resumed", self.prefix)
                return
            except (StoreUnavailable, Exception) as err:
                log.debug("reopen %s failed: %s", self.prefix, err)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def recent(self, key: str) -> dict | None:
        """The newest state of `key` this cache has seen, or None: a guess, etcd may be ahead.

        Writers use it as kube-apiserver's GuaranteedUpdate uses its cached object: try the
        write against the guessed resourceVersion, and read etcd only when that conflicts.
        The object is decoded for this caller from the cached JSON: its own copy. No lock:
        one dict read is atomic, an event is safe to read while it is compacted (store.py),
        and every write of the cached kind asked for it behind the dispatcher.
        """
        ev = self.latest.get(key)
        if ev is None:
            data = self.objects.get(key)        # its last change left the window
            return None if data is None else codec.loads(data)
        if ev.type == "DELETED":
            return None
        return codec.loads(ev.json())

    # --- client watches --------------------------------------------------------------
    REGISTER_POLL = 0.01

    def watch(self, from_revision: int, sink: Sink) -> None:
        """Register a client watch for events after from_revision under sink.key_prefix.

        Raises RevisionCompacted when from_revision is older than the cache's window.

        The registration is queued and done by whichever thread holds the lock next: the
        dispatcher, before its next batch, or this thread when the lock is free. Waiting
        for the lock itself, hundreds of registering watches queued up behind a
        dispatcher that takes it again for every batch (a lock is not fair): a py-spy
        dump at 500 hollow nodes had 127 threads waiting here for minutes.
        """
        request = _Registration(from_revision, sink)
        self.registering.append(request)
        while not request.done.is_set():
            if self.lock.acquire(blocking=False):
                try:
                    self._drop_leaving()
                finally:
                    self.lock.release()
            else:
                request.done.wait(self.REGISTER_POLL)
        if request.error is not None:
            raise request.error

    def _register_waiting(self) -> None:
        """Under the lock: register every queued watch (see watch)."""
        while self.registering:
            request = self.registering.popleft()
            try:
                self._register_locked(request.from_revision, request.sink)
            except BaseException as err:      # noqa: BLE001 - the watch's own thread raises it
                request.error = err
            request.done.set()

    def _register_locked(self, from_revision: int, sink: Sink) -> None:
        value = getattr(sink, "trigger_value", None) if self.trigger else None
        if from_revision < self.window_start:
            raise RevisionCompacted(self.window_start)
        # Only the events after from_revision, found from the newest end: a watch that
        # resumes from a recent revision must not walk the whole window under the lock
        # (20,000 events, and 500 kubelets re-watching); an indexed watch walks only
        # its value's events.
        window = self.events if value is None else self.by_trigger.get(value, ())
        after = []
        for ev in reversed(window):
            if ev.revision <= from_revision:
                break
            after.append(ev)
        for ev in reversed(after):
            if ev.key.startswith(sink.key_prefix):
                # An indexed watch gets only the events of its value, as when they were
                # dispatched: no decoding (under this lock) of the other kubelets' pods.
                if value is not None and ev.triggers is not None and value not in ev.triggers:
                    continue
                sink.push(ev)
        self.after[sink] = from_revision
        if value is None:
            self.watchers.add(sink)
        else:
            self.triggered.setdefault(value, set()).add(sink)

    def bookmark_revision(self, sink: Sink) -> int | None:
        """A revision the sink may be told it has seen everything up to, or None if not yet.

        The revision is read first: every event up to it was pushed before it was set, so
        if the sink is idle after that, they have all been delivered."""
        revision = self.bookmarkable
        return revision if sink.idle() else None

    def remove(self, sink: Sink):
        with self.lock:
            self._remove_locked(sink)

    def leave(self, sink: Sink) -> None:
        """End a watch without waiting for the lock: nothing is pushed to it after this.

        For sinks with detach() and push_many() (see Sink). With hundreds of watches under
        one GIL, waiting for the lock to end one queued watches up behind the dispatcher
        (a py-spy dump at 500 hollow nodes: 108 threads in remove). The sink is taken out
        of the indexes by the next locked section (_drop_leaving).
        """
        sink.detach()
        self.leaving.append(sink)

    def _drop_leaving(self) -> None:
        """Under the lock: forget the watches that left, register the waiting ones."""
        while self.leaving:
            self._remove_locked(self.leaving.pop())
        self._register_waiting()

    def _remove_locked(self, sink: Sink) -> None:
        self.watchers.discard(sink)
        self.after.pop(sink, None)
        value = getattr(sink, "trigger_value", None)
        sinks = self.triggered.get(value)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self.triggered[value]

    def stop(self):
        """Stop following etcd and end every client stream now (the apiserver is going
        away; each client resumes from its last resourceVersion elsewhere or later)."""
        self._stopped = True
        with self.lock:
            watchers = list(self.after)
        for w in watchers:
            w.push(None)
        if self._cancel:
            self._cancel()
