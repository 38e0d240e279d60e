"""ServiceAccount JWTs: what they claim, and when the authenticator believes them."""
from __future__ import annotations

import base64
import json

import pytest

from minikube_py.apiserver.auth import serviceaccount as sat
from minikube_py.apiserver.auth.serviceaccount import (DEFAULT_ISSUER, InvalidToken,
                                                       ServiceAccountAuthenticator, TokenIssuer)

NOW = 1_800_000_000
KEY = sat.generate_signing_key()


def _sa(name="viewer", ns="default", uid="sa-uid"):
    return {"metadata": {"name": name, "namespace": ns, "uid": uid}}


def _pod(name="web", uid="pod-uid", deleted=None):
    md = {"name": name, "namespace": "default", "uid": uid}
    if deleted:
        md["deletionTimestamp"] = deleted
    return {"metadata": md}


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class World:
    """The objects the authenticator looks up, as the apiserver's getter returns them."""

    def __init__(self, *objs):
        self.objs = {}
        for resource, obj in objs:
            self.put(resource, obj)

    def put(self, resource, obj):
        md = obj["metadata"]
        self.objs[(resource, md.get("namespace"), md["name"])] = obj

    def drop(self, resource, ns, name):
        self.objs.pop((resource, ns, name))

    def get(self, resource, namespace, name):
        return self.objs.get((resource, namespace, name))


def _authn(world, now=NOW, keys=(KEY,), **kw):
    return ServiceAccountAuthenticator(list(keys), DEFAULT_ISSUER, world.get, clock=lambda: now, **kw)


def test_bound_token_claims_are_kubernetes_shape():
    token, exp = TokenIssuer(KEY, clock=lambda: NOW).issue(
        _sa(), [DEFAULT_ISSUER], 3607, pod=_pod(), node={"metadata": {"name": "n1", "uid": "n-uid"}})
    claims = _payload(token)
    assert exp == NOW + 3607 == claims["exp"]
    assert claims["iss"] == DEFAULT_ISSUER and claims["aud"] == [DEFAULT_ISSUER]
    assert claims["sub"] == "system:serviceaccount:default:viewer"
    assert claims["iat"] == claims["nbf"] == NOW and claims["jti"]
    assert claims["kubernetes.io"] == {"namespace": "default",
                                       "serviceaccount": {"name": "viewer", "uid": "sa-uid"},
                                       "pod": {"name": "web", "uid": "pod-uid"},
                                       "node": {"name": "n1", "uid": "n-uid"}}
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256" and header["kid"] == sat.key_id(KEY.public_key())


def test_valid_token_authenticates_as_the_service_account():
    world = World(("serviceaccounts", _sa()), ("pods", _pod()))
    token, _ = TokenIssuer(KEY, clock=lambda: NOW).issue(_sa(), [DEFAULT_ISSUER], 3600, pod=_pod())
    user = _authn(world).authenticate_token(token)
    assert user.name == "system:serviceaccount:default:viewer" and user.uid == "sa-uid"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:default",
                           "system:authenticated")
    assert user.extra[sat.EXTRA_POD_NAME] == ["web"] and user.extra[sat.EXTRA_POD_UID] == ["pod-uid"]
    assert user.extra[sat.EXTRA_CREDENTIAL_ID] == [f"JTI={_payload(token)['jti']}"]


def test_token_of_another_issuer_or_not_a_jwt_is_not_ours():
    world = World(("serviceaccounts", _sa()))
    other, _ = TokenIssuer(KEY, issuer="https://elsewhere", clock=lambda: NOW).issue(_sa(), ["x"], 3600)
    assert _authn(world).authenticate_token(other) is None
    assert _authn(world).authenticate_token("abc123-static-token") is None


@pytest.mark.parametrize("why", ["expired", "wrong key", "audience", "sa gone", "sa recreated",
                                 "pod gone", "pod recreated", "pod deleted long ago"])
def test_our_token_that_does_not_hold_is_refused(why):
    world = World(("serviceaccounts", _sa()), ("pods", _pod()))
    issued_at, key, audiences = NOW, KEY, [DEFAULT_ISSUER]
    if why == "expired":
        issued_at = NOW - 7200
    if why == "wrong key":
        key = sat.generate_signing_key()
    if why == "audience":
        audiences = ["vault"]
    token, _ = TokenIssuer(key, clock=lambda: issued_at).issue(_sa(), audiences, 3600, pod=_pod())
    if why == "sa gone":
        world.drop("serviceaccounts", "default", "viewer")
    if why == "sa recreated":
        world.put("serviceaccounts", _sa(uid="another"))
    if why == "pod gone":
        world.drop("pods", "default", "web")
    if why == "pod recreated":
        world.put("pods", _pod(uid="another"))
    if why == "pod deleted long ago":
        world.put("pods", _pod(deleted="2020-01-01T00:00:00Z"))
    with pytest.raises(InvalidToken):
        _authn(world).authenticate_token(token)


def test_a_pod_in_its_graceful_stop_keeps_its_token():
    from datetime import datetime, timezone
    just_now = datetime.fromtimestamp(NOW - 5, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    world = World(("serviceaccounts", _sa()), ("pods", _pod(deleted=just_now)))
    token, _ = TokenIssuer(KEY, clock=lambda: NOW).issue(_sa(), [DEFAULT_ISSUER], 3600, pod=_pod())
    assert _authn(world).authenticate_token(token).name.endswith(":viewer")


def test_a_token_for_another_audience_is_accepted_when_that_audience_is_asked():
    world = World(("serviceaccounts", _sa()))
    token, _ = TokenIssuer(KEY, clock=lambda: NOW).issue(_sa(), ["vault"], 3600)
    assert _authn(world).authenticate_token(token, audiences=["vault"]).uid == "sa-uid"
    with pytest.raises(InvalidToken, match="audiences"):
        _authn(world).authenticate_token(token)


def test_key_files_public_and_private(tmp_path):
    from cryptography.hazmat.primitives import serialization
    signing = tmp_path / "sa.key"
    sat.write_signing_key(str(signing))
    assert oct(signing.stat().st_mode & 0o777) == "0o600"
    key = sat.load_signing_key(str(signing))
    other = sat.generate_signing_key()
    both = tmp_path / "sa.pub"
    both.write_bytes(signing.read_bytes() + other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    keys = sat.load_verifying_keys(str(both))
    assert [sat.key_id(k) for k in keys] == [sat.key_id(key.public_key()), sat.key_id(other.public_key())]
    world = World(("serviceaccounts", _sa()))
    for signer in (key, other):      # either key of the file verifies (a key rotation)
        token, _ = TokenIssuer(signer, clock=lambda: NOW).issue(_sa(), [DEFAULT_ISSUER], 3600)
        assert _authn(world, keys=keys).authenticate_token(token) is not None


def test_usernames():
    assert sat.split_username("system:serviceaccount:ns:sa") == ("ns", "sa")
    assert sat.split_username("system:serviceaccount:ns") is None
    assert sat.split_username("alice") is None
