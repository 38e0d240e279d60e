"""The kubelet: the agent on each node that runs the pods bound to it.

Read in this order: ``kubelet.py`` (how the pieces fit), ``podworkers.py`` (one
worker per pod), ``podactions.py`` (what one sync must do, a pure decision),
``podsync.py`` (doing it), ``podstatus.py`` (the status it reports), then
``images.py``, ``envvars.py``, ``volumes.py``, ``pleg.py``, ``prober.py``,
``backoff.py``, ``nodestatus.py``, ``lease.py`` (``loop.py`` runs them),
``events.py``, ``server.py``/``logs.py``.  ``runtime/`` talks to Docker (or
pretends to); ``devices/`` is the device manager for GPUs; ``command.py`` is
``minikube-py kubelet``.
"""
