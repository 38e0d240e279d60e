"""The kubelet: the agent on each node that runs the pods bound to it.

Read in this order: ``kubelet.py`` (how the pieces fit), ``podworkers.py`` (one
worker per pod), ``podsync.py`` (what one sync does), ``podstatus.py`` (the
status it reports), then ``pleg.py``, ``prober.py``, ``backoff.py``,
``nodestatus.py``, ``lease.py``, ``events.py``, ``server.py``/``logs.py``.
``runtime/`` talks to Docker (or pretends to); ``devices/`` is the device manager
for GPUs; ``command.py`` is ``minikube-py kubelet``.
"""
