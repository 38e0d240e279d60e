"""The apiserver's Flask app: URL → (resource, namespace, name, subresource) → registry.

Kubernetes paths look like
    /api/v1/namespaces/{ns}/pods/{name}/status
    /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale
    /api/v1/nodes/{name}
and every kind is served by the same handlers; what differs between kinds is declared
in each kind's declaration (api/kinds/).

Each of them is counted and timed for ``GET /metrics`` (apiserver_request_total,
apiserver_request_duration_seconds: metrics/prometheus.py).

These resource paths are nearly every request a cluster makes (each pod create, bind,
status update, event and watch), so they take a short way in: `ResourceRoutes`, a WSGI
middleware in front of Flask (Flask's own `app.wsgi_app` hook), parses them with
werkzeug's Request -- what Flask's `request` is -- and hands them to the handlers
below. Flask's per-request machinery (app and request contexts, the URL map, signals,
teardown) cost about 0.3 ms a request in the threaded server, a quarter of a pod
create. Flask serves the rest: health, version, discovery roots, unknown paths, and
the error pages of both, which are Kubernetes Status objects.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from time import perf_counter

from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from .. import codec
from ..version import version as server_version
from ..api.kinds import SCHEME
from ..api.kinds.apiextensions import CUSTOM_RESOURCE_DEFINITION as CRD
from ..api.kinds.customresource import CustomResourceKind
from ..api.kinds.core import NAMESPACE, NODE, POD
from ..api.kinds.componentstatus import COMPONENT_STATUS
from ..api.kinds.authorization import GROUP as AUTHORIZATION_GROUP
from ..api.kinds.authentication import SELF_SUBJECT_REVIEW, TOKEN_REVIEW
from ..api.kinds.config import SECRET, SERVICE_ACCOUNT
from ..api.kinds.metrics import GROUP as METRICS_GROUP
from ..api.kinds.quota import LIMIT_RANGE, RESOURCE_QUOTA
from ..api.kinds.service import SERVICE
from ..api.selectors import field_value
from ..storage.store import StorageError, StoreUnavailable, ValueTooLarge
from ..storage.watchcache import WatchCache
from ..metrics import api as metrics_api
from ..metrics.prometheus import RequestMetrics, registry_with, render, resource_labels
from ..metrics.prometheus import CONTENT_TYPE as PROMETHEUS_TEXT
from ..metrics.scraper import DEFAULT_RESOLUTION, MetricsScraper
from ..metrics.scraper import node_fields as scraper_node_fields
from ..metrics.scraper import pod_fields as scraper_pod_fields
from ..storage.compactor import DEFAULT_INTERVAL as DEFAULT_COMPACTION_INTERVAL, Compactor
from . import accessreview, componentstatus, discovery, errors, eviction, openapi, pagination, protobuf
from . import subresources, watch
from .auth import bootstrappolicy
from . import kubernetesendpoints, tokenrequest, tokenreview
from .auth.authenticator import Anonymous, Authentication, AuthenticationError, authenticated
from .auth.authorizer import AlwaysAllow, authorizer_from_modes, only_always_allow
from .admission import REQUESTER
from .auth.filters import USER, Authenticate, Authorize, user_of
from .auth.serviceaccount import DEFAULT_ISSUER, ServiceAccountTokens
from .audit import Audit, AuditLog
from .inflight import DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT, DEFAULT_MAX_REQUESTS_INFLIGHT, MaxInFlight
from .customresources import CustomResources
from .kubeletclient import PLAIN, KubeletClient
from .fieldmanager import Writer, patch_options_invalid, serve_apply
from .lister import NamespaceLister
from .registry import Registry
from .requestbody import BOOLS, JSON, MAX_BODY, delete_options, patch_type, read_json
from .serviceallocation import DEFAULT_CLUSTER_IP_RANGE, DEFAULT_NODE_PORT_RANGE, ServiceAllocator
from .tables import to_table

log = logging.getLogger(__name__)



def respond(obj, code=200) -> Response:
    return Response(codec.dumps(obj), status=code, mimetype=JSON)


def status_response(err: errors.APIError) -> Response:
    return respond(err.status(), err.code)


def error_response(err: Exception) -> Response:
    """Any failure of a request, as the Kubernetes Status a client expects."""
    if isinstance(err, errors.APIError):
        return status_response(err)
    if isinstance(err, StoreUnavailable):
        return status_response(errors.unavailable(f"storage is unavailable: {err}"))
    if isinstance(err, ValueTooLarge):
        return status_response(errors.APIError(413, "RequestEntityTooLarge", str(err)))
    if isinstance(err, StorageError):
        return status_response(errors.APIError(500, "InternalError", f"storage error: {err}"))
    if isinstance(err, RequestEntityTooLarge):
        return status_response(errors.too_large())
    if isinstance(err, HTTPException) and err.code == 404:
        return status_response(errors.no_such_path())
    if isinstance(err, HTTPException) and err.code == 405:
        return status_response(errors.method_not_allowed())
    if isinstance(err, HTTPException):
        return status_response(errors.APIError(err.code, err.name.replace(" ", ""), err.description or err.name))
    log.exception("internal error", exc_info=err)
    return status_response(errors.APIError(500, "InternalError", f"Internal error occurred: {err}"))


class QueryArgs(ImmutableMultiDict):
    """werkzeug's query arguments, where `get` of an argument that is not there is cheap.

    werkzeug's `get` looks the key up through `__getitem__`, which raises a whole HTTP
    exception (BadRequestKeyError) for a missing key before `get` catches it; a request
    asks for a dozen arguments it does not have (dryRun, fieldManager, ...), and at
    5,000 nodes' heartbeats those exceptions were 3.6% of the apiserver's GIL samples.
    """

    def get(self, key, default=None, type=None):     # noqa: A002 - werkzeug's signature
        if key not in self:
            return default
        return super().get(key, default, type)


class APIRequest(Request):
    """A request on a resource path: werkzeug's Request, with kube-apiserver's body limit."""
    max_content_length = MAX_BODY
    parameter_storage_class = QueryArgs


class ResourceRoutes:
    """WSGI middleware: /api/v1/... and /apis/{group}/{version}/... go straight to
    APIServer.dispatch; every other path goes on to Flask (see the module docstring)."""

    def __init__(self, server: "APIServer", flask_wsgi_app):
        self.server = server
        self.flask_wsgi_app = flask_wsgi_app

    def __call__(self, environ, start_response):
        parts = [p for p in environ.get("PATH_INFO", "").split("/") if p]
        if (len(parts) >= 2 and parts[0] == "api") or (len(parts) >= 3 and parts[0] == "apis"):
            started = perf_counter()
            req = APIRequest(environ)
            group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else \
                (parts[1], parts[2], parts[3:])
            requester = REQUESTER.set(environ.get(USER))     # for admission (NodeRestriction)
            try:
                if parts[0] == "api" and version != "v1":
                    raise errors.no_such_path()
                resp = self.server.dispatch(req, group, version, rest)
            except Exception as err:         # noqa: BLE001 - every failure becomes a Status
                resp = error_response(err)
            finally:
                REQUESTER.reset(requester)
            labels = resource_labels(group, version, rest, req.method, req.args,
                                     environ.get("CONTENT_TYPE", ""))
            self.server.request_metrics.observe(
                labels, resp.status_code, None if labels[0] == "WATCH" else perf_counter() - started)
            return resp(environ, start_response)
        return self.flask_wsgi_app(environ, start_response)


class APIServer:
    """Holds the registry and the watch caches; builds the Flask app."""

    def __init__(self, store, service_cluster_ip_range: str = DEFAULT_CLUSTER_IP_RANGE,
                 service_node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE,
                 metric_resolution: float = DEFAULT_RESOLUTION, authentication=None,
                 authorization_modes: list[str] | None = None,
                 service_account_signing_key_file: str | None = None,
                 service_account_key_files: tuple = (),
                 service_account_issuer: str = DEFAULT_ISSUER, api_audiences: tuple = (),
                 advertise: tuple | None = None,
                 max_requests_inflight: int = DEFAULT_MAX_REQUESTS_INFLIGHT,
                 max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
                 audit_log: AuditLog | None = None, kubelet_client: KubeletClient = PLAIN,
                 admission_plugins: tuple = (), etcd_compaction_interval: float = DEFAULT_COMPACTION_INTERVAL):
        self.store = store
        # etcd's history older than one interval is forgotten (storage/compactor.py)
        self.compactor = Compactor(store, etcd_compaction_interval)
        # the request filters around the handlers: inflight.py, audit.py
        self.max_requests_inflight = max_requests_inflight
        self.max_mutating_requests_inflight = max_mutating_requests_inflight
        self.audit_log = audit_log
        # auth/: who may do what. Neither given: no auth filter at all (everyone is
        # the unsecured system:masters user), as the apiserver was before it had auth.
        self.authentication = authentication
        self.authorization_modes = list(authorization_modes or ["AlwaysAllow"])
        self.authorizer = AlwaysAllow()       # make_app builds the modes' own
        self.services = ServiceAllocator(store, service_cluster_ip_range, service_node_port_range)
        self.custom = CustomResources(self)
        self.registry = Registry(store, recent=self.recent,
                                 hooks={(SERVICE.group, SERVICE.plural): self.services,
                                        (CRD.group, CRD.plural): self.custom})
        self.registry.admission.enable(admission_plugins)      # --enable-admission-plugins
        self.caches: dict[str, WatchCache] = {}
        self._caches_lock = threading.Lock()
        self.stopping = threading.Event()
        # metrics.k8s.io: the kubelets' figures, scraped as metrics-server does (metrics/)
        self.prometheus = registry_with()        # GET /metrics (metrics/prometheus.py)
        self.request_metrics = RequestMetrics(self.prometheus)
        self.kubelet_client = kubelet_client      # http or https to the kubelets (kubeletclient.py)
        # What it reads of Nodes and Pods each period comes from watch-fed listers holding
        # only those fields: listing every pod from etcd every 15 s to find their labels was
        # the largest idle cost of a big cluster.
        self.metrics = MetricsScraper(lambda: self.lister(NODE, keep=scraper_node_fields).all(),
                                      lambda: self.lister(POD, keep=scraper_pod_fields).all(),
                                      resolution=metric_resolution, session=kubelet_client.connections(),
                                      scheme=kubelet_client.scheme)
        self.listers: dict = {}     # by etcd prefix (and `keep` function): see lister()
        self._listers_lock = threading.Lock()
        self.advertise = advertise      # (ip, port) pods reach this apiserver at (kubernetesendpoints.py)
        # ServiceAccount tokens (auth/serviceaccount.py): with a signing key this apiserver
        # serves serviceaccounts/<name>/token and mounts tokens into pods (ServiceAccount
        # admission); with verifying keys it believes them (its authenticator)
        self.service_account_tokens = ServiceAccountTokens.from_flags(
            self.lookup, service_account_signing_key_file, service_account_key_files,
            service_account_issuer, api_audiences)
        self.registry.admission.service_accounts.mount_tokens = \
            self.service_account_tokens.issuer is not None
        if self.authentication is not None and self.service_account_authenticator is not None:
            self.authentication.token_authenticators.append(self.service_account_authenticator)

    @property
    def service_account_authenticator(self):
        """The ServiceAccount JWT authenticator (None without keys) for the token chain."""
        return self.service_account_tokens.authenticator

    def lookup(self, resource: str, namespace, name: str) -> dict | None:
        """An object as the token authenticator checks it: the watch cache's copy, else etcd's;
        None when it does not exist."""
        rt = {"serviceaccounts": SERVICE_ACCOUNT, "pods": POD, "secrets": SECRET, "nodes": NODE}[resource]
        namespace = namespace if rt.namespaced else None
        cached = self.recent(rt, rt.etcd_key(namespace, name))
        if cached is not None:
            return cached
        try:
            return self.registry.get(rt, namespace, name)
        except errors.APIError as err:
            if err.code == 404:
                return None
            raise

    def authenticate_token(self, token: str, audiences) -> tuple:
        """(UserInfo or None, the audiences it is good for), as TokenReview asks: each
        bearer-token authenticator of the chain in turn (the token file, then ServiceAccount
        JWTs); AuthenticationError when one of them refused it and no other took it."""
        sa = self.service_account_authenticator
        chain = list(self.authentication.token_authenticators) if self.authentication is not None else []
        if sa is not None and sa not in chain:
            chain.append(sa)
        refused = None
        for authn in chain:
            try:
                user = authn.authenticate_token(token, audiences) if authn is sa \
                    else authn.authenticate_token(token)
            except AuthenticationError as err:
                refused = err
                continue
            if user is None:
                continue
            if authn is not sa:      # a static token is good for the API's own audiences
                return authenticated(user), [a for a in audiences if a in self.service_account_tokens.audiences]
            claimed = sa.verify(token, audiences)["aud"]
            claimed = [claimed] if isinstance(claimed, str) else claimed
            return authenticated(user), [a for a in audiences if a in claimed]
        if refused is not None:
            raise refused
        return None, []

    def cache_for(self, rt) -> WatchCache:
        # Every watch asks: read without the lock first (one dict read), so hundreds of
        # watches do not queue on it (a py-spy dump at 500 hollow nodes: 91 threads here).
        cache = self.caches.get(rt.etcd_prefix())
        if cache is not None:
            return cache
        with self._caches_lock:
            cache = self.caches.get(rt.etcd_prefix())
            if cache is None:
                trigger = None
                if rt.watch_trigger:
                    trigger = functools.partial(field_value, path=rt.watch_trigger)
                cache = WatchCache(self.store, rt.etcd_prefix(), trigger=trigger)
                cache.start()
                self.caches[rt.etcd_prefix()] = cache
            return cache

    def drop_cache(self, rt) -> None:
        """A kind no longer served (its CRD is gone): close its watch cache and end its watches."""
        with self._caches_lock:
            cache = self.caches.pop(rt.etcd_prefix(), None)
        if cache is not None:
            cache.stop()
            cache._on_etcd_failure(StorageError(f"{rt.plural}.{rt.group} is no longer served"))

    def lister(self, rt, keep=None) -> NamespaceLister:
        """The in-memory, watch-fed copy of one kind (lister.py), made on first use and
        shared: admission reads quotas and LimitRanges from them, the authorizers RBAC
        objects and pods. With `keep`, a copy of only the part `keep` returns of each
        object (one lister per `keep` function)."""
        key = rt.etcd_prefix() if keep is None else (rt.etcd_prefix(), keep)
        with self._listers_lock:
            lister = self.listers.get(key)
            if lister is None:
                lister = NamespaceLister(self.store, self.cache_for(rt), rt, keep=keep).start()
                self.listers[key] = lister
            return lister

    def recent(self, rt, key: str) -> dict | None:
        """The watch cache's newest copy of an object, when a cache watches its kind."""
        cache = self.caches.get(rt.etcd_prefix())
        return cache.recent(key) if cache is not None else None

    def start(self):
        """Create the system namespaces and the `kubernetes` Service, and open the watch
        caches (events': on the first watch)."""
        system = [(NAMESPACE, None, {"metadata": {"name": name}})
                  for name in ("default", "kube-system", "kube-public", "kube-node-lease")]
        system.append((SERVICE, "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                          "provider": "kubernetes"}},
            "spec": {"clusterIP": self.services.kubernetes_service_ip,
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}))
        for rt, namespace, obj in system:
            self._ensure_system_object(rt, namespace, obj)
        for rt in SCHEME.all():
            if rt.eager_watch_cache:
                self.cache_for(rt)
        # quota and LimitRanger admission read these on every create: keep them in memory
        self.registry.admission.use_listers(self.lister(RESOURCE_QUOTA), self.lister(LIMIT_RANGE),
                                            self.lister(SERVICE_ACCOUNT))
        if "RBAC" in self.authorization_modes:
            # kube-apiserver's rbac/bootstrap-roles hook: the default roles and bindings
            bootstrappolicy.reconcile(self.registry)
        self.custom.start()       # serve the stored CRDs' kinds, then follow CRD changes
        if self.advertise:
            kubernetesendpoints.keep_reconciled(self.registry, *self.advertise, self.stopping)
        self.metrics.start()
        self.compactor.start()

    def _ensure_system_object(self, rt, namespace, obj, attempts=20):
        """Create `obj` unless it exists. Several apiservers of one cluster start at once (the
        compose lab runs two): the one that loses the race for the Service's IP gets 422
        "already allocated" before the winner's create is visible, so look again a moment later."""
        for attempt in range(attempts):
            try:
                self.registry.get(rt, namespace, obj["metadata"]["name"])
                return            # made by an earlier start or by another apiserver
            except errors.APIError as err:
                if err.code != 404:
                    raise
            try:
                self.registry.create(rt, namespace, obj)
                return
            except errors.APIError as err:
                if err.code not in (409, 422) or attempt == attempts - 1:
                    raise
            time.sleep(0.1)

    def stop(self):
        first = not self.stopping.is_set()
        self.stopping.set()
        self.metrics.stop()
        self.compactor.stop()
        for lister in list(self.listers.values()):
            lister.stop()
        for cache in self.caches.values():
            cache.stop()
        group = getattr(self.store, "writes", None)
        if first and group is not None and group.txns:
            log.info("etcd group commit: %d writes in %d txns (%.2f per txn)",
                     group.writes, group.txns, group.writes / group.txns)

    # ------------------------------------------------------------------ the app
    def make_app(self) -> Flask:
        app = Flask("minikube-py-apiserver")
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

        for failure in (Exception, 404, 405, 413):
            app.register_error_handler(failure, error_response)

        # --- health, version, discovery ---------------------------------------
        @app.route("/healthz")
        @app.route("/livez")
        def healthz():
            return Response("ok", mimetype="text/plain")

        @app.route("/readyz")
        def readyz():
            self.store.current_revision()
            return Response("ok", mimetype="text/plain")

        @app.route("/metrics")
        def metrics():
            return Response(render(self.prometheus), content_type=PROMETHEUS_TEXT)

        @app.route("/version")
        @app.route("/version/")
        def version():
            return respond(server_version())

        @app.route("/api")
        @app.route("/api/")
        def api():
            return respond(discovery.api_versions())

        @app.route("/apis")
        @app.route("/apis/")
        def apis():
            return respond(discovery.api_group_list())

        @app.route("/openapi/v2")
        def openapi_v2():
            return openapi.v2_response(request)

        @app.route("/openapi/v3")
        @app.route("/openapi/v3/<path:group_version>")
        def openapi_v3(group_version=None):
            return openapi.v3_response(request, group_version)

        @app.route("/apis/<group>")
        @app.route("/apis/<group>/")
        def api_group(group):
            for g in discovery.api_group_list()["groups"]:
                if g["name"] == group:
                    return respond(g)
            raise errors.no_such_path()

        # Every resource path (/api/v1/..., /apis/{group}/{version}/...) is served here.
        app.wsgi_app = ResourceRoutes(self, app.wsgi_app)
        # The filters in front, innermost first; a request meets them in the order of
        # kube-apiserver's DefaultBuildHandlerChain: audit, authentication (and
        # impersonation), max-in-flight, authorization, handler.
        authenticates = self.authentication is not None or not only_always_allow(self.authorization_modes)
        if authenticates:
            self.authorizer = authorizer_from_modes(self.authorization_modes, self)
            app.wsgi_app = Authorize(app.wsgi_app, self.authorizer)
        if self.max_requests_inflight > 0 or self.max_mutating_requests_inflight > 0:
            app.wsgi_app = MaxInFlight(app.wsgi_app, self.max_requests_inflight,
                                       self.max_mutating_requests_inflight)
        if authenticates:
            app.wsgi_app = Authenticate(app.wsgi_app, self.authentication or Authentication(anonymous=Anonymous()),
                                        self.authorizer)
        if self.audit_log is not None:
            app.wsgi_app = Audit(app.wsgi_app, self.audit_log, authenticates)
        return app

    # ------------------------------------------------------------------ routing
    def dispatch(self, req: Request, group, version, parts):
        if not parts:
            doc = discovery.api_resource_list(group, version)
            if doc is None:
                raise errors.no_such_path()
            return respond(doc)
        namespace = None
        if parts[0] == "namespaces" and len(parts) >= 3:
            inner = SCHEME.find(group, version, parts[2])
            if inner is not None and inner.namespaced:
                namespace, parts = parts[1], parts[2:]
        rt = SCHEME.find(group, version, parts[0])
        if rt is None:
            raise errors.no_such_path()
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if sub == "proxy" and "proxy" in rt.subresources:
            if req.method not in ("GET", "HEAD"):
                raise errors.method_not_allowed()
            from .proxy import proxy_to_kubelet     # /nodes/{name}/proxy/{path...}: the kubelet's
            return proxy_to_kubelet(self.registry, name, "/".join(parts[3:]), req.query_string,
                                    self.kubelet_client)
        if len(parts) > 3 or (sub and sub not in rt.subresources):
            raise errors.no_such_path()
        if rt.namespaced and name is not None and namespace is None:
            raise errors.no_such_path()
        if rt.group == METRICS_GROUP:
            return self.resource_metrics(req, rt, namespace, name, sub)
        if rt is SELF_SUBJECT_REVIEW:          # kubectl auth whoami
            if req.method != "POST" or name is not None:
                raise errors.method_not_allowed()
            return respond(accessreview.self_subject_review(user_of(req.environ)), 201)
        if rt.group == AUTHORIZATION_GROUP:
            if req.method != "POST" or name is not None:
                raise errors.method_not_allowed()
            return respond(accessreview.review(rt, namespace, read_json(req), user_of(req.environ),
                                               self.authorizer), 201)
        if rt is COMPONENT_STATUS:
            return self.component_statuses(req, rt, name)
        if rt is TOKEN_REVIEW:
            if req.method != "POST" or name is not None:
                raise errors.method_not_allowed()
            return respond(tokenreview.review(self.authenticate_token,
                                              self.service_account_tokens.audiences, read_json(req)), 201)
        warnings = self.field_validation(req, rt, sub)
        resp = self.handle(req, rt, namespace, name, sub)
        for text in warnings:
            resp.headers.add("Warning", openapi.warning_header(text))
        return resp

    def field_validation(self, req: Request, rt, sub) -> list[str]:
        """?fieldValidation=Strict|Warn (kubectl create/apply): unknown and duplicate fields."""
        directive = req.args.get("fieldValidation")
        if directive is None or req.method not in ("POST", "PUT", "PATCH") or sub not in (None, "status"):
            return []
        if (req.content_type or "").split(";")[0].strip() == protobuf.CONTENT_TYPE:
            return []    # protobuf bodies cannot carry a field their message does not have
        kind_of_patch = patch_type(req, rt) if req.method == "PATCH" else None
        if kind_of_patch not in (None, "merge", "strategic", "json"):
            return []    # server-side apply's YAML is not JSON: checked where it is decoded
        return openapi.check_fields(rt, directive, read_json(req), req.get_data(), kind_of_patch)

    def handle(self, req: Request, rt, namespace, name, sub):
        method = "GET" if req.method == "HEAD" else req.method
        args = req.args
        dry_run = bool(args.get("dryRun"))
        reg = self.registry
        if name is None:
            if method == "GET":
                if args.get("watch") in ("1", "true", "True"):
                    return self.watch(req, rt, namespace)
                token = args.get("continue") or None
                if token and args.get("resourceVersion"):
                    raise errors.bad_request("specifying resource version is not allowed when using continue")
                limit = pagination.parse_limit(args.get("limit"))
                lst = None
                rv = args.get("resourceVersion")
                if rv and rv.isdigit() and not token and not limit and \
                        args.get("resourceVersionMatch", "NotOlderThan") == "NotOlderThan":
                    # "0": any state; "N": not older than N -- what informers ask: the cache's
                    # state serves it when it is new enough, else etcd below (always newer).
                    lst = reg.list_from_cache(rt, self.cache_for(rt), namespace, args.get("labelSelector"),
                                              args.get("fieldSelector"), not_older_than=int(rv))
                if lst is None:
                    lst = reg.list(rt, namespace, args.get("labelSelector"), args.get("fieldSelector"),
                                   limit=limit, continue_token=token)
                return self.respond_list(req, rt, lst)
            if method == "POST":
                if rt.namespaced and namespace is None:
                    raise errors.method_not_allowed()
                return respond(reg.create(rt, namespace, read_json(req), dry_run=dry_run,
                                          writer=Writer.of(args, req.headers.get("User-Agent"))), 201)
            if method == "DELETE":
                options = delete_options(req)
                return respond(reg.delete_collection(rt, namespace, args.get("labelSelector"),
                                                     args.get("fieldSelector"), options))
            raise errors.method_not_allowed()
        if sub == "binding":
            if method != "POST":
                raise errors.method_not_allowed()
            return respond(subresources.bind(reg, namespace, name, read_json(req)), 201)
        if sub == "token":
            if method != "POST":
                raise errors.method_not_allowed()
            if self.service_account_tokens.issuer is None:
                raise errors.no_such_path()     # kube-apiserver serves it only with a signing key
            return respond(tokenrequest.create_token(reg, self.service_account_tokens, namespace, name,
                                                     read_json(req)), 201)
        if sub == "eviction":
            if method != "POST":
                raise errors.method_not_allowed()
            return respond(eviction.evict(reg, namespace, name, read_json(req), dry_run=dry_run), 201)
        writer = Writer.of(args, req.headers.get("User-Agent"), sub) if method != "GET" else None
        if method == "PATCH":
            if patch_type(req, rt) == "apply":
                return self.apply(req, rt, namespace, name, sub, dry_run)
            if args.get("force") is not None:
                raise patch_options_invalid("force", "FieldValueForbidden",
                                            "Forbidden: may not be specified for non-apply patch")
        if sub == "scale" and isinstance(rt, CustomResourceKind):
            body = read_json(req) if method in ("PUT", "PATCH") else None
            return respond(self.custom.scale(rt, namespace, name, method, body,
                                             patch_type(req, rt) if method == "PATCH" else None))
        if sub == "scale":
            if method == "GET":
                return respond(subresources.scale_of(reg.get(rt, namespace, name)))
            if method == "PUT":
                return respond(subresources.update_scale(reg, rt, namespace, name, read_json(req), writer=writer))
            if method == "PATCH":
                return respond(reg.patch(rt, namespace, name, read_json(req), patch_type(req, rt), "scale",
                                         writer=writer))
            raise errors.method_not_allowed()
        if sub == "log":
            return self.pod_log(req, namespace, name)
        if sub in ("exec", "attach", "portforward"):
            from .streaming.upgrade import proxy_stream     # the kubelet serves these
            return proxy_stream(reg, namespace, name, sub, req, self.kubelet_client)
        if method == "GET":
            return self.respond_one(req, rt, reg.get(rt, namespace, name,
                                                     any_version=req.args.get("resourceVersion") == "0"))
        if method == "PUT":
            return respond(reg.update(rt, namespace, name, read_json(req), subresource=sub, dry_run=dry_run,
                                      writer=writer))
        if method == "PATCH":
            return respond(reg.patch(rt, namespace, name, read_json(req), patch_type(req, rt), sub,
                                     dry_run=dry_run, writer=writer))
        if method == "DELETE" and sub is None:
            obj, gone = reg.delete(rt, namespace, name, delete_options(req), dry_run=dry_run)
            if rt.return_deleted_object or not gone:
                return respond(obj)
            return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "details": {"name": name, "group": rt.group, "kind": rt.plural,
                                        "uid": obj["metadata"].get("uid")}})
        raise errors.method_not_allowed()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def wants_table(req: Request) -> str | None:
        accept = req.headers.get("Accept", "")
        first = accept.split(",")[0]
        if "as=Table" in first:
            return req.args.get("includeObject", "Metadata")
        return None

    def respond_list(self, req, rt, lst):
        include = self.wants_table(req)
        if include:
            table = to_table(rt, lst["items"], lst["metadata"]["resourceVersion"], include)
            table["metadata"].update((k, v) for k, v in lst["metadata"].items() if k != "resourceVersion")
            return respond(table)
        return respond(lst)

    def respond_one(self, req, rt, obj):
        include = self.wants_table(req)
        if include:
            return respond(to_table(rt, [obj], obj["metadata"].get("resourceVersion"), include))
        return respond(obj)

    def apply(self, req, rt, namespace, name, sub, dry_run):
        """Server-side apply (fieldmanager.py): 201 when it created the object."""
        if sub is not None:
            raise errors.method_not_allowed("server-side apply is served on the object itself, "
                                            "not on its subresources")
        if not req.args.get("fieldManager"):
            raise patch_options_invalid("fieldManager", "FieldValueRequired",
                                        "Required value: is required for apply patch")
        force = req.args.get("force", "false")
        if force not in BOOLS:
            raise errors.bad_request(f'invalid force value "{force}"')
        obj, created = serve_apply(self.registry, rt, namespace, name, read_json(req), req.args["fieldManager"],
                                   force=BOOLS[force], dry_run=dry_run)
        return respond(obj, 201 if created else 200)

    def watch(self, req, rt, namespace):
        gen = watch.stream(self.registry, self.cache_for(rt), rt, namespace, req.args, req.environ,
                           as_table=bool(self.wants_table(req)), stopping=self.stopping)
        return Response(gen, mimetype=JSON, headers={"Cache-Control": "no-cache"}, direct_passthrough=True)

    def resource_metrics(self, req, rt, namespace, name, sub):
        """metrics.k8s.io: read-only, from the scraper's memory (metrics/api.py)."""
        if req.method not in ("GET", "HEAD") or sub is not None:
            raise errors.method_not_allowed()
        if name is None:
            if req.args.get("watch") in ("1", "true", "True"):
                raise errors.method_not_allowed("watch is not supported on metrics.k8s.io")
            lst = metrics_api.serve_list(self.metrics, rt, namespace, req.args.get("labelSelector"),
                                         req.args.get("fieldSelector"))
            return self.respond_list(req, rt, lst)
        return self.respond_one(req, rt, metrics_api.serve_get(self.metrics, rt, namespace, name))

    def component_statuses(self, req, rt, name):
        """v1 ComponentStatus: computed from etcd's members and the components' Leases."""
        if req.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        if req.args.get("watch") in ("1", "true", "True"):
            raise errors.method_not_allowed("watch is not supported on componentstatuses")
        if name is None:
            resp = self.respond_list(req, rt, componentstatus.serve_list(self.registry, self.store))
        else:
            resp = self.respond_one(req, rt, componentstatus.serve_get(self.registry, self.store, name))
        resp.headers.add("Warning", openapi.warning_header("v1 ComponentStatus is deprecated in v1.19+"))
        return resp

    def pod_log(self, req, namespace, name):
        """Logs come from the pod's kubelet, streamed through here (see proxy.py)."""
        from .proxy import stream_pod_log
        if req.method != "GET":
            raise errors.method_not_allowed()
        return stream_pod_log(self.registry, namespace, name, req.args,
                              req.environ.get("minikube_py.socket"), self.kubelet_client)


def create_app(store, **options) -> tuple[APIServer, Flask]:
    """options: service_cluster_ip_range, service_node_port_range (see serviceallocation.py),
    metric_resolution, authentication and authorization_modes (auth/), max_requests_inflight and
    max_mutating_requests_inflight (inflight.py), audit_log (audit.py),
    etcd_compaction_interval (storage/compactor.py)."""
    server = APIServer(store, **options)
    return server, server.make_app()
