"""Client side: what every component uses to talk to the apiserver.

- :mod:`.kubeconfig`  -- find the server and credentials (the kubectl file format)
- :mod:`.discovery`   -- RESTMapper: resource names -> REST paths, from discovery
- :mod:`.errors`      -- Status objects -> typed exceptions (NotFound, Conflict, ...)
- :mod:`.rest`        -- ``Client``: get/list/create/update/patch/delete/watch
- :mod:`.informer`    -- list+watch into a local cache, with change handlers
- :mod:`.workqueue`   -- dedup'ing, rate-limited queue of keys for controllers
- :mod:`.leaderelection` -- one active instance among many, via a Lease
"""

from .errors import (AlreadyExists, ApiError, BadRequest, Conflict, Expired, Forbidden,
                     Invalid, NotFound, ServerError, TooManyRequests, Unauthorized)
from .informer import Informer, Store, meta_key, split_key
from .kubeconfig import ClientConfig, load_config, write_kubeconfig
from .leaderelection import LeaderElector
from .discovery import RESTMapper, resource_path
from .rest import Client
from .workqueue import WorkQueue, run_workers

__all__ = [
    "AlreadyExists", "ApiError", "BadRequest", "Client", "ClientConfig", "Conflict",
    "Expired", "Forbidden", "Informer", "Invalid", "LeaderElector", "NotFound",
    "RESTMapper", "ServerError", "Store", "TooManyRequests", "Unauthorized", "WorkQueue",
    "load_config", "meta_key", "resource_path", "run_workers", "split_key", "write_kubeconfig",
]
