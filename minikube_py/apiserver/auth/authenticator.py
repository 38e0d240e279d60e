"""Who is asking? Kubernetes' request authenticators and the chain that tries them.

Each authenticator answers ``authenticate(environ) -> UserInfo | None``: None when the
request carries no credential of its kind ("not mine"), AuthenticationError when it
carries one that is wrong. The chain (as kube-apiserver's union) tries the x509 client
certificate, then the bearer token; a credential that no one accepts is a 401, never a
fall-back to anonymous. Only a request with no credential at all may be anonymous.

Bearer tokens go through a list of token authenticators (``authenticate_token(token)``):
the static --token-auth-file here, ServiceAccount JWTs (serviceaccount.py) appended to
``Authentication.token_authenticators``.
"""
from __future__ import annotations

import csv
import logging
from typing import Iterable, Optional, Protocol

from .user import ANONYMOUS, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP, UserInfo

log = logging.getLogger(__name__)


class AuthenticationError(Exception):
    """A credential was presented and is not valid: the request gets 401 Unauthorized."""


class RequestAuthenticator(Protocol):
    def authenticate(self, environ) -> Optional[UserInfo]: ...


class TokenAuthenticator(Protocol):
    def authenticate_token(self, token: str) -> Optional[UserInfo]: ...


# ----------------------------------------------------------------- x509 client certs
class X509Authenticator:
    """The client certificate TLS verified against --client-ca-file: CN is the user's
    name, each O (organization) one of its groups (Kubernetes' CommonNameUserConversion).

    The TLS layer only hands over certificates that verified (CERT_OPTIONAL with the CA),
    so a certificate from another CA never gets this far: its handshake failed.
    """

    def authenticate(self, environ) -> Optional[UserInfo]:
        cert = peer_certificate(environ)
        if not cert:
            return None
        names = [(key, value) for rdn in cert.get("subject", ()) for key, value in rdn]
        common = [value for key, value in names if key == "commonName"]
        if not common or not common[0]:
            raise AuthenticationError("x509: certificate has no common name")
        groups = tuple(value for key, value in names if key == "organizationName")
        return UserInfo(common[0], groups=groups)


def peer_certificate(environ) -> dict | None:
    """The verified client certificate of the connection (Python's getpeercert() form)."""
    sock = environ.get("minikube_py.socket")
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None
    try:
        return getpeercert()
    except (ValueError, OSError):     # no handshake (plain socket wrapper) or gone
        return None


# ----------------------------------------------------------------- bearer tokens
class TokenFile:
    """--token-auth-file: a CSV of ``token,user,uid,"group1,group2"`` (groups optional)."""

    def __init__(self, path: str):
        self.path = path
        self.tokens: dict[str, UserInfo] = {}
        with open(path, newline="") as f:
            for number, record in enumerate(csv.reader(f, skipinitialspace=True), 1):
                if not record:
                    continue
                if len(record) < 3:
                    raise ValueError(f"token file '{path}' must have at least 3 columns "
                                     f"(token, user name, user uid), found {len(record)}")
                token, name, uid = record[:3]
                if not token:
                    log.warning("empty token has been found in token file '%s', record number '%d'",
                                path, number)
                    continue
                if token in self.tokens:
                    log.warning("duplicate token has been found in token file '%s', record number '%d'",
                                path, number)
                groups = tuple(record[3].split(",")) if len(record) >= 4 and record[3] else ()
                self.tokens[token] = UserInfo(name, uid, groups)

    def authenticate_token(self, token: str) -> Optional[UserInfo]:
        return self.tokens.get(token)


class BearerToken:
    """``Authorization: Bearer <token>``, checked by each token authenticator in turn."""

    def __init__(self, token_authenticators: list):
        self.token_authenticators = token_authenticators    # shared with Authentication

    def authenticate(self, environ) -> Optional[UserInfo]:
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        token = token.split(" ", 1)[0]
        if scheme.lower() != "bearer" or not token:
            return None
        errors = []
        for authenticator in self.token_authenticators:
            try:
                user = authenticator.authenticate_token(token)
            except AuthenticationError as err:
                errors.append(str(err))
                continue
            if user is not None:
                # the credential is spent here: nothing behind the apiserver (a kubelet
                # it proxies to) should see the user's token
                environ.pop("HTTP_AUTHORIZATION", None)
                return user
        raise AuthenticationError("; ".join(errors) or "invalid bearer token")


# ----------------------------------------------------------------- anonymous
class Anonymous:
    """--anonymous-auth: a request with no credential is system:anonymous.

    ``paths``, when given, limits that to those paths (kube-apiserver's
    AuthenticationConfiguration ``anonymous.conditions``, e.g. /healthz, /livez,
    /readyz): anywhere else a request without credentials is a 401.
    """

    def __init__(self, paths: Iterable[str] | None = None):
        self.paths = frozenset(paths) if paths else None

    def authenticate(self, environ) -> Optional[UserInfo]:
        if self.paths is None or environ.get("PATH_INFO", "") in self.paths:
            return ANONYMOUS
        return None


# ----------------------------------------------------------------- the chain
class Authentication:
    """The apiserver's authenticator: x509 → bearer token → (anonymous)."""

    def __init__(self, x509: bool = False, token_authenticators: Iterable = (),
                 anonymous: Anonymous | None = None):
        # satoken's ServiceAccountAuthenticator (and any other) goes on this list
        self.token_authenticators: list = list(token_authenticators)
        self.authenticators: list = ([X509Authenticator()] if x509 else []) + \
            [BearerToken(self.token_authenticators)]
        self.anonymous = anonymous

    def authenticate(self, environ) -> Optional[UserInfo]:
        """The user, None when no one authenticated the request; AuthenticationError when
        a credential it carried was refused."""
        errors = []
        for authenticator in self.authenticators:
            try:
                user = authenticator.authenticate(environ)
            except AuthenticationError as err:
                errors.append(str(err))
                continue
            if user is not None:
                return authenticated(user)
        if errors:
            raise AuthenticationError("; ".join(errors))
        if self.anonymous is not None:
            return self.anonymous.authenticate(environ)
        return None


def authenticated(user: UserInfo) -> UserInfo:
    """Every authenticated user is in system:authenticated (Kubernetes' AuthenticatedGroupAdder)."""
    if AUTHENTICATED_GROUP in user.groups or UNAUTHENTICATED_GROUP in user.groups:
        return user
    return user.with_group(AUTHENTICATED_GROUP)


def build(client_ca_file: str | None = None, token_auth_file: str | None = None,
          anonymous_auth: bool = True, anonymous_paths: Iterable[str] | None = None) -> Authentication:
    """The chain of kube-apiserver's flags (--client-ca-file, --token-auth-file, --anonymous-auth)."""
    tokens = [TokenFile(token_auth_file)] if token_auth_file else []
    return Authentication(x509=bool(client_ca_file), token_authenticators=tokens,
                          anonymous=Anonymous(anonymous_paths) if anonymous_auth else None)
