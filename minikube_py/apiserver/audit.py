"""The audit log: who did what, when -- kube-apiserver's --audit-log-path.

Every request the policy selects becomes one audit.k8s.io/v1 Event, one JSON line,
written when its response is complete (stage ResponseComplete):

    {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"...",
     "stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create",
     "user":{"username":"admin","groups":["system:masters","system:authenticated"]},
     "sourceIPs":["127.0.0.1"],"userAgent":"kubectl/v1.32.0 ...",
     "objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1"},
     "responseStatus":{"metadata":{},"code":201},
     "requestReceivedTimestamp":"...","stageTimestamp":"..."}

The policy (--audit-policy-file, an audit.k8s.io/v1 Policy) says per request how much
to keep: None (nothing), Metadata (the above), Request (+ requestObject), RequestResponse
(+ responseObject). Its first matching rule decides; no match is None. Without a policy
file every write (create, update, patch, delete, deletecollection) is kept at Metadata.

It is the outermost WSGI middleware (only panic recovery is outside it in Kubernetes),
so it sees refused requests too (401, 403, 429). It reads the user and what the request
asks for from what the auth filter left in the environ once the request has run.
"""
from __future__ import annotations

import datetime
import logging
import os
import sys
import threading
import uuid
from dataclasses import dataclass, field

import yaml

from .. import codec
from .auth.filters import AUTHENTICATED_USER, USER, request_info_of, user_of
from .inflight import might_be_long_running

log = logging.getLogger(__name__)

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
STAGE = "ResponseComplete"
AUDIT_ID_HEADER = "Audit-Id"


# ------------------------------------------------------------------ policy
@dataclass
class Rule:
    """One audit.k8s.io/v1 PolicyRule; empty lists match everything."""
    level: str
    users: list = field(default_factory=list)
    user_groups: list = field(default_factory=list)
    verbs: list = field(default_factory=list)
    resources: list = field(default_factory=list)        # [{group, resources, resourceNames}]
    namespaces: list = field(default_factory=list)
    non_resource_urls: list = field(default_factory=list)
    omit_stages: list = field(default_factory=list)

    def matches(self, user, info) -> bool:
        """Kubernetes' policy checker, rule by rule (audit/policy/checker.go)."""
        if self.users and user.name not in self.users:
            return False
        if self.user_groups and not set(self.user_groups) & set(user.groups):
            return False
        if self.verbs and info.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            return info.is_resource_request and self._matches_resource(info)
        if self.non_resource_urls:
            return not info.is_resource_request and any(
                info.path == url or (url.endswith("*") and info.path.startswith(url[:-1]))
                for url in self.non_resource_urls)
        return True

    def _matches_resource(self, info) -> bool:
        if self.namespaces and info.namespace not in self.namespaces:
            return False
        if not self.resources:
            return True
        combined = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
        for gr in self.resources:
            if gr.get("group", "") != info.api_group:
                continue
            names = gr.get("resourceNames") or []
            if not gr.get("resources"):
                return True
            if names and info.name not in names:
                continue
            for res in gr["resources"]:
                if res in (combined, "*"):
                    return True
                if info.subresource and res.startswith("*/") and res[2:] == info.subresource:
                    return True
                if res.endswith("/*") and res[:-2] == info.resource:
                    return True
        return False


class Policy:
    def __init__(self, rules: list[Rule], omit_stages=()):
        self.rules = rules
        self.omit_stages = list(omit_stages)

    def rule_for(self, user, info) -> Rule | None:
        for rule in self.rules:
            if rule.matches(user, info):
                return rule
        return None

    @classmethod
    def from_file(cls, path: str) -> "Policy":
        with open(path) as f:
            return cls.from_dict(yaml.safe_load(f))

    @classmethod
    def from_dict(cls, doc) -> "Policy":
        if not isinstance(doc, dict) or doc.get("kind") != "Policy" or \
                doc.get("apiVersion") not in ("audit.k8s.io/v1", "audit.k8s.io/v1beta1"):
            raise ValueError("an audit policy is an audit.k8s.io/v1 Policy")
        rules = []
        for i, r in enumerate(doc.get("rules") or []):
            if r.get("level") not in LEVELS:
                raise ValueError(f"rules[{i}].level: Unsupported value: {r.get('level')!r}: "
                                 f"supported values: {', '.join(LEVELS)}")
            if r.get("nonResourceURLs") and (r.get("resources") or r.get("namespaces")):
                raise ValueError(f"rules[{i}].nonResourceURLs: Invalid value: rules cannot apply "
                                 "to both regular resources and non-resource URLs")
            rules.append(Rule(level=r["level"], users=r.get("users") or [], user_groups=r.get("userGroups") or [],
                              verbs=r.get("verbs") or [], resources=r.get("resources") or [],
                              namespaces=r.get("namespaces") or [],
                              non_resource_urls=r.get("nonResourceURLs") or [],
                              omit_stages=r.get("omitStages") or []))
        if not rules:
            raise ValueError("an audit policy needs at least one rule")
        return cls(rules, doc.get("omitStages") or [])


DEFAULT_POLICY = Policy([Rule("Metadata", verbs=list(WRITE_VERBS))])


# ------------------------------------------------------------------ the log
class AuditLog:
    """Appends Events as JSON lines to a file ("-": standard output).

    Each line is one write(2) on a file opened O_APPEND, so a reader never sees half an
    Event; the file is the owner's only (it names who did what, and what to)."""

    def __init__(self, path: str, policy: Policy = DEFAULT_POLICY):
        self.path = path
        self.policy = policy
        self._lock = threading.Lock()
        self._fd = sys.stdout.fileno() if path == "-" else \
            os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, event: dict):
        line = codec.dumps(event) + b"\n"
        with self._lock:
            os.write(self._fd, line)

    def close(self):
        if self.path != "-":
            os.close(self._fd)


def timestamp(at: datetime.datetime) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds, in UTC."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Audit:
    """WSGI middleware: one Event per request the policy keeps."""

    def __init__(self, app, audit_log: AuditLog, authenticates: bool = True):
        self.app = app
        self.log = audit_log
        # without an auth filter every request is the unsecured system:masters user;
        # with one, a request it refused before naming a user (401) was made by nobody known
        self.authenticates = authenticates
        # Copies of the bodies are kept only where an Event may need them: the objects for
        # Request and RequestResponse rules, and a create's (its name) -- never a stream's.
        levels = {rule.level for rule in audit_log.policy.rules}
        self.keep_requests = bool(levels & {"Request", "RequestResponse"})
        self.keep_responses = "RequestResponse" in levels

    def __call__(self, environ, start_response):
        received = datetime.datetime.now(datetime.timezone.utc)
        audit_id = str(uuid.uuid4())
        record = _Record(environ, received, audit_id)
        method = environ.get("REQUEST_METHOD")
        if method == "POST" or (self.keep_requests and method in ("PUT", "PATCH", "DELETE")):
            environ["wsgi.input"] = record.tee(environ["wsgi.input"])
        if not (method == "POST" or self.keep_responses) or might_be_long_running(environ):
            record.response_chunks = None

        def respond(status, headers, exc_info=None):
            record.code = int(status.split(" ", 1)[0])
            record.content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
            headers = [*headers, (AUDIT_ID_HEADER, audit_id)]
            return start_response(status, headers) if exc_info is None else \
                start_response(status, headers, exc_info)

        try:
            body = self.app(environ, respond)
        except BaseException:
            record.code = record.code or 500
            self.finish(record)
            raise
        return _Body(body, record, self)

    def finish(self, record: "_Record"):
        """The response is complete: decide the level and write the Event."""
        environ = record.environ
        info = request_info_of(environ)
        if USER in environ or not self.authenticates:
            user = user_of(environ)
        else:
            user = None                       # refused before it was known who asks
        impersonator = environ.get(AUTHENTICATED_USER)
        if impersonator is not None:          # the policy sees, the Event names, who asked
            user, impersonated = impersonator, user
        else:
            impersonated = None
        rule = self.log.policy.rule_for(user or _NOBODY, info)
        if rule is None or rule.level == "None" or STAGE in rule.omit_stages or \
                STAGE in self.log.policy.omit_stages:
            return
        try:
            self.log.write(record.event(rule.level, info, user, impersonated))
        except (OSError, ValueError) as err:     # a full disk must not fail requests
            log.warning("audit log %s: %s", self.log.path, err)


@dataclass(frozen=True)
class _Nobody:
    name: str = ""
    groups: tuple = ()


_NOBODY = _Nobody()


class _Record:
    """What one request's Event is made of, gathered while it runs."""

    def __init__(self, environ, received, audit_id):
        self.environ = environ
        self.received = received
        self.audit_id = audit_id
        self.code = 0
        self.content_type = ""
        self.request_chunks: list[bytes] = []
        self.response_chunks: list[bytes] | None = []

    def tee(self, stream):
        return _TeeInput(stream, self.request_chunks)

    def event(self, level: str, info, user, impersonated=None) -> dict:
        env = self.environ
        uri = env.get("PATH_INFO", "")
        if env.get("QUERY_STRING"):
            uri += "?" + env["QUERY_STRING"]
        event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
                 "auditID": self.audit_id, "stage": STAGE, "requestURI": uri, "verb": info.verb,
                 "user": _user(user), "sourceIPs": source_ips(env)}
        if impersonated is not None:
            event["impersonatedUser"] = _user(impersonated)
        if env.get("HTTP_USER_AGENT"):
            event["userAgent"] = env["HTTP_USER_AGENT"]
        request_object = _json(b"".join(self.request_chunks))
        response_object = _json(b"".join(self.response_chunks or ())) \
            if self.content_type.startswith("application/json") else None
        if info.is_resource_request:
            event["objectRef"] = _object_ref(info, request_object, response_object)
        if self.code:
            event["responseStatus"] = _response_status(self.code, response_object)
        if level in ("Request", "RequestResponse") and request_object is not None:
            event["requestObject"] = request_object
        if level == "RequestResponse" and response_object is not None:
            event["responseObject"] = response_object
        event["requestReceivedTimestamp"] = timestamp(self.received)
        event["stageTimestamp"] = timestamp(datetime.datetime.now(datetime.timezone.utc))
        return event


class _TeeInput:
    """wsgi.input that keeps a copy of what the app reads (the request's object)."""

    def __init__(self, stream, chunks: list):
        self.stream = stream
        self.chunks = chunks

    def read(self, *args):
        data = self.stream.read(*args)
        self.chunks.append(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.chunks.append(data)
        return data

    def __iter__(self):
        return iter(self.readline, b"")

    def __getattr__(self, name):
        return getattr(self.stream, name)


class _Body:
    """The app's response, passed through; the Event is written when it is closed."""

    # a copy of a large answer (a big list) is not kept: its Event goes without responseObject
    KEEP_AT_MOST = 3 * 1024 * 1024

    def __init__(self, body, record: _Record, audit: Audit):
        self.body = body
        self.record = record
        self.audit = audit
        self.kept = 0

    def __iter__(self):
        chunks = self.record.response_chunks
        for chunk in self.body:
            if chunks is not None:
                self.kept += len(chunk)
                if self.kept > self.KEEP_AT_MOST:
                    chunks = self.record.response_chunks = None
                else:
                    chunks.append(chunk)
            yield chunk

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.audit.finish(self.record)


def _json(data: bytes):
    if not data:
        return None
    try:
        return codec.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None                   # protobuf or YAML: kept only as their metadata


def _user(user) -> dict:
    if user is None:
        return {}
    out = {"username": user.name}
    if getattr(user, "uid", ""):
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    return out


def _object_ref(info, request_object, response_object) -> dict:
    ref = {"resource": info.resource, "namespace": info.namespace, "name": info.name,
           "apiGroup": info.api_group, "apiVersion": info.api_version, "subresource": info.subresource}
    if not info.name and info.verb == "create":
        # a create names its object in the body (or the server does, from generateName)
        for obj in (response_object, request_object):
            meta = obj.get("metadata") if isinstance(obj, dict) and obj.get("kind") != "Status" else None
            if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
                ref["name"] = meta["name"]
                break
    return {k: v for k, v in ref.items() if v}


def _response_status(code: int, response_object) -> dict:
    status = {"metadata": {}, "code": code}
    if code >= 400 and isinstance(response_object, dict) and response_object.get("kind") == "Status":
        for key in ("status", "message", "reason"):
            if response_object.get(key):
                status[key] = response_object[key]
    return status


def source_ips(environ) -> list[str]:
    """X-Forwarded-For, then X-Real-Ip, then the peer's address (Kubernetes' SourceIPs)."""
    ips = [ip.strip() for ip in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if ip.strip()]
    for ip in (environ.get("HTTP_X_REAL_IP", ""), environ.get("REMOTE_ADDR", "")):
        if ip and ip not in ips:
            ips.append(ip)
    return ips
