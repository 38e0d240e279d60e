"""ServiceAccount tokens: signed JWTs that say "this is ServiceAccount ns/name", and
the authenticator that believes them only while that account (and the pod it was
bound to) still exists.

kube-apiserver signs them with an RSA key (``--service-account-signing-key-file``) and
accepts tokens signed by any of its public keys (``--service-account-key-file``); the
``iss`` claim is ``--service-account-issuer``.  The claims are Kubernetes' own for
*bound* tokens (the TokenRequest API, what the kubelet mounts into pods)::

    {"iss": "https://kubernetes.default.svc.cluster.local",
     "sub": "system:serviceaccount:default:viewer",
     "aud": ["https://kubernetes.default.svc.cluster.local"],
     "exp": ..., "iat": ..., "nbf": ..., "jti": "<uuid>",
     "kubernetes.io": {"namespace": "default",
                       "serviceaccount": {"name": "viewer", "uid": "..."},
                       "pod": {"name": "web-0", "uid": "..."},      # when bound to a pod
                       "node": {"name": "node-1", "uid": "..."}}}   # the pod's node

A signature proves the apiserver issued the token, not that it still means anything:
a token outlives a deleted ServiceAccount or pod unless someone looks, so every
authentication looks (``getter``), as upstream's ``validator.Validate`` does.

The JWT itself is PyJWT's (RS256 through ``cryptography``): signing, the header's
``kid``, and the checks of ``exp``/``nbf``/``iat``/``aud``/``iss`` are the well-trodden
part; what Kubernetes adds on top (the private claims and the liveness checks) is here.
"""
from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .authenticator import AuthenticationError
from .user import AUTHENTICATED_GROUP, UserInfo

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
PRIVATE_CLAIM = "kubernetes.io"
ALGORITHM = "RS256"
# Clocks of the apiservers (and of whoever checks a token) differ a little: a token is
# accepted this many seconds around its nbf/iat/exp, as upstream's JWT validation allows.
LEEWAY_SECONDS = 60
# A pod being deleted keeps its token working for its graceful stop, but not longer.
DELETING_POD_GRACE_SECONDS = 60

# UserInfo.extra keys upstream sets for a bound token (authentication/serviceaccount/util.go)
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


class InvalidToken(AuthenticationError):
    """A token meant for us that does not hold: the request is 401, it does not go on
    to the next authenticator.  ``str()`` says why (for logs and TokenReview's error)."""


# ------------------------------------------------------------------------- keys
def generate_signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_signing_key(path: str) -> None:
    """A new RSA key at `path` (mode 0600), what `up` gives the apiserver: the private
    key signs, and its public half verifies (one file serves both flags)."""
    import os
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_key_pem(generate_signing_key()))


def load_signing_key(path: str) -> rsa.RSAPrivateKey:
    """--service-account-signing-key-file: one PEM RSA private key."""
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return key


def load_verifying_keys(path: str) -> list[rsa.RSAPublicKey]:
    """--service-account-key-file: every PEM key in the file, public or private (for a
    private key, its public half), as kube-apiserver reads it."""
    with open(path, "rb") as f:
        data = f.read()
    keys = []
    for block in data.split(b"-----END ")[:-1]:
        start = block.rfind(b"-----BEGIN ")
        kind = block[start + len(b"-----BEGIN "):].split(b"-----", 1)[0]
        pem = block[start:] + b"-----END " + kind + b"-----\n"
        if b"PRIVATE" in kind:
            key = serialization.load_pem_private_key(pem, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
        if isinstance(key, rsa.RSAPublicKey):
            keys.append(key)
    if not keys:
        raise ValueError(f"{path}: no RSA keys in it")
    return keys


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """The JWT header's ``kid``: the unpadded base64url SHA-256 of the key's DER form
    (upstream's keyIDFromPublicKey), so a verifier can tell which key signed."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


# ------------------------------------------------------------------------- claims
def username(namespace: str, name: str) -> str:
    """``system:serviceaccount:<ns>:<name>``: how RBAC and audit name a ServiceAccount."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_username(user: str) -> Optional[tuple[str, str]]:
    """(namespace, name) of a ServiceAccount username, None for any other user."""
    if not user.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = user[len(SERVICE_ACCOUNT_PREFIX):].partition(":")
    return (namespace, name) if sep and namespace and name and ":" not in name else None


def groups(namespace: str) -> tuple[str, ...]:
    return (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}")


def _ref(obj: Optional[dict]) -> Optional[dict]:
    if not obj:
        return None
    md = obj.get("metadata") or {}
    return {"name": md.get("name", ""), "uid": md.get("uid", "")}


def bound_claims(issuer: str, audiences: list[str], service_account: dict, expiration_seconds: int,
                 now: int, pod: Optional[dict] = None, node: Optional[dict] = None,
                 secret: Optional[dict] = None, jti: Optional[str] = None) -> dict:
    """The claims of a token for `service_account` (upstream's serviceaccount.Claims)."""
    md = service_account["metadata"]
    private = {"namespace": md["namespace"], "serviceaccount": _ref(service_account)}
    for key, obj in (("pod", pod), ("secret", secret), ("node", node)):
        if obj is not None:
            private[key] = _ref(obj)
    return {"iss": issuer, "sub": username(md["namespace"], md["name"]), "aud": list(audiences),
            "exp": now + int(expiration_seconds), "iat": now, "nbf": now,
            "jti": jti or str(uuid.uuid4()), PRIVATE_CLAIM: private}


class TokenIssuer:
    """Signs tokens with the apiserver's private key (the TokenRequest API's backend)."""

    def __init__(self, key: rsa.RSAPrivateKey, issuer: str = DEFAULT_ISSUER,
                 clock: Callable[[], float] = time.time):
        self.key, self.issuer, self.clock = key, issuer, clock
        self.kid = key_id(key.public_key())

    def issue(self, service_account: dict, audiences: list[str], expiration_seconds: int,
              pod: Optional[dict] = None, node: Optional[dict] = None,
              secret: Optional[dict] = None) -> tuple[str, int]:
        """(the token, its exp as seconds since the epoch)."""
        claims = bound_claims(self.issuer, audiences, service_account, expiration_seconds,
                              int(self.clock()), pod=pod, node=node, secret=secret)
        token = jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return token, claims["exp"]


# ------------------------------------------------------------------------- authentication
# getter(resource, namespace, name) -> the object, or None when it does not exist;
# resource is "serviceaccounts", "pods", "secrets" or "nodes" (namespace None for nodes).
Getter = Callable[[str, Optional[str], str], Optional[dict]]


@dataclass
class ServiceAccountAuthenticator:
    """Bearer tokens signed by one of `keys`, issued by one of `issuers`, for one of
    `audiences`.  A token of another issuer is not ours (None: the next authenticator
    may know it); a token of ours that does not hold raises InvalidToken (a 401)."""

    keys: list
    issuers: Iterable[str]
    getter: Getter
    audiences: Iterable[str] = ()       # --api-audiences; empty: the issuers
    clock: Callable[[], float] = time.time

    def __post_init__(self):
        self.keys = [k.public_key() if isinstance(k, rsa.RSAPrivateKey) else k for k in self.keys]
        self.issuers = tuple(self.issuers) if not isinstance(self.issuers, str) else (self.issuers,)
        self.audiences = tuple(self.audiences) or self.issuers
        self._by_kid = {key_id(k): k for k in self.keys}

    def _ours(self, token: str) -> Optional[dict]:
        """The header, when `token` is a JWT whose unverified iss is one of ours."""
        if token.count(".") != 2:
            return None
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        return header if unverified.get("iss") in self.issuers else None

    def verify(self, token: str, audiences: Optional[Iterable[str]] = None) -> Optional[dict]:
        """The token's claims once signature, times, issuer and audience hold; None when
        it is not one of ours; InvalidToken when it is ours and does not hold."""
        header = self._ours(token)
        if header is None:
            return None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"unexpected signing algorithm {header.get('alg')!r}")
        wanted = tuple(audiences) if audiences else self.audiences
        candidates = [self._by_kid[header["kid"]]] if header.get("kid") in self._by_kid else self.keys
        last = None
        for key in candidates:
            try:   # the times are checked below, on our clock
                claims = jwt.decode(
                    token, key, algorithms=[ALGORITHM], audience=list(wanted), issuer=list(self.issuers),
                    options={"require": ["exp", "iat", "sub"], "verify_exp": False,
                             "verify_nbf": False, "verify_iat": False})
            except jwt.InvalidSignatureError as err:
                last = err
                continue
            except jwt.InvalidAudienceError:
                raise InvalidToken("token audiences "
                                   f"{jwt.decode(token, options={'verify_signature': False}).get('aud')}"
                                   f" is invalid for the target audiences {list(wanted)}") from None
            except jwt.PyJWTError as err:
                raise InvalidToken(f"invalid token: {err}") from None
            self._check_times(claims)
            return claims
        raise InvalidToken(f"invalid signature: {last or 'no key to verify it'}")

    def _check_times(self, claims: dict) -> None:
        now = self.clock()
        try:
            exp, iat, nbf = int(claims["exp"]), int(claims["iat"]), int(claims.get("nbf", claims["iat"]))
        except (TypeError, ValueError):
            raise InvalidToken("invalid token: exp, iat and nbf must be integers") from None
        if now - LEEWAY_SECONDS > exp:
            raise InvalidToken("Token has expired.")
        if now + LEEWAY_SECONDS < nbf:
            raise InvalidToken("Token is not valid yet.")
        if now + LEEWAY_SECONDS < iat:
            raise InvalidToken("Token used before issued.")

    def authenticate_token(self, token: str, audiences: Optional[Iterable[str]] = None) -> Optional[UserInfo]:
        """The ServiceAccount user of a valid token of ours (None: not ours)."""
        claims = self.verify(token, audiences)
        if claims is None:
            return None
        private = claims.get(PRIVATE_CLAIM)
        if not isinstance(private, dict):
            raise InvalidToken("token has no kubernetes.io claim (legacy tokens are not served)")
        namespace = private.get("namespace") or ""
        sa_ref = private.get("serviceaccount") or {}
        if split_username(claims["sub"]) != (namespace, sa_ref.get("name")):
            raise InvalidToken("sub does not match the kubernetes.io claim")
        sa = self._alive("serviceaccounts", namespace, sa_ref)
        extra = {EXTRA_CREDENTIAL_ID: [f"JTI={claims['jti']}"]} if claims.get("jti") else {}
        if private.get("pod"):
            pod = self._alive("pods", namespace, private["pod"])
            deleted = (pod["metadata"].get("deletionTimestamp"))
            if deleted and _seconds_since(deleted, self.clock()) > DELETING_POD_GRACE_SECONDS:
                raise InvalidToken(f"pod {private['pod'].get('name')} is being deleted: "
                                   "Token has been invalidated")
            extra[EXTRA_POD_NAME] = [private["pod"]["name"]]
            extra[EXTRA_POD_UID] = [private["pod"]["uid"]]
        if private.get("secret"):
            self._alive("secrets", namespace, private["secret"])
        if private.get("node"):
            extra[EXTRA_NODE_NAME] = [private["node"].get("name", "")]
            extra[EXTRA_NODE_UID] = [private["node"].get("uid", "")]
        return UserInfo(name=claims["sub"], uid=sa["metadata"].get("uid", ""),
                        groups=groups(namespace) + (AUTHENTICATED_GROUP,), extra=extra)

    def _alive(self, resource: str, namespace: str, ref: dict) -> dict:
        """The object a claim names, when it still exists with the claim's uid."""
        singular = resource[:-1]
        name = ref.get("name") or ""
        obj = self.getter(resource, namespace, name)
        if obj is None:
            raise InvalidToken(f'{singular} "{name}" not found: Token has been invalidated')
        uid = obj["metadata"].get("uid")
        if ref.get("uid") and uid != ref["uid"]:
            raise InvalidToken(f"{singular} UID ({uid}) does not match claim ({ref['uid']}): "
                               "Token has been invalidated")
        return obj


def _seconds_since(rfc3339: str, now: float) -> float:
    from ...api.meta import parse_time
    return now - parse_time(rfc3339).timestamp()


# ------------------------------------------------------------------------- the apiserver's
@dataclass
class ServiceAccountTokens:
    """kube-apiserver's --service-account-* flags, loaded: who signs (None: this apiserver
    issues no tokens and serves no TokenRequest) and who verifies."""

    issuer: Optional[TokenIssuer]
    authenticator: Optional[ServiceAccountAuthenticator]
    audiences: tuple

    @classmethod
    def from_flags(cls, getter: Getter, signing_key_file: Optional[str] = None,
                   key_files: Iterable[str] = (), issuer: str = DEFAULT_ISSUER,
                   api_audiences: Iterable[str] = ()) -> "ServiceAccountTokens":
        """As kube-apiserver completes them: without --service-account-key-file the
        signing key's public half verifies; --api-audiences defaults to the issuer."""
        audiences = tuple(api_audiences) or (issuer,)
        key_files = list(key_files) or ([signing_key_file] if signing_key_file else [])
        signer = TokenIssuer(load_signing_key(signing_key_file), issuer) if signing_key_file else None
        keys = [k for path in key_files for k in load_verifying_keys(path)]
        authn = ServiceAccountAuthenticator(keys, (issuer,), getter, audiences) if keys else None
        return cls(signer, authn, audiences)
