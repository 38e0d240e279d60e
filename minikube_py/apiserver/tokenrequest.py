"""serviceaccounts/<name>/token: the TokenRequest API, the one way to get a ServiceAccount token.

The kubelet asks it for the token it mounts into a pod's kube-api-access volume
(bound to the pod: the token dies with it), `kubectl create token <sa>` asks it for
an unbound one. The answer is the request back with `status.token` and
`status.expirationTimestamp` filled in; nothing is stored. The rules and messages are
kube-apiserver's (pkg/registry/core/serviceaccount/storage/token.go):

- the ServiceAccount must exist (404), the lifetime is 10 min .. 2^32 s, 1 h unless asked (422);
- the audiences are the apiserver's (--api-audiences, else the issuer) unless asked;
- a bound object (Pod, Secret or Node) must exist with the uid given (409 otherwise), and a
  pod must run as this ServiceAccount; a pod's token also names the pod's node.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..api import meta
from ..api.kinds.authentication import DEFAULT_EXPIRATION_SECONDS, GROUP, validate_token_request
from ..api.kinds.config import SECRET, SERVICE_ACCOUNT
from ..api.kinds.core import NODE, POD
from . import errors

BINDABLE = {"Pod": POD, "Secret": SECRET, "Node": NODE}


def _invalid(name: str, causes: list) -> errors.APIError:
    msgs = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
    return errors.APIError(422, "Invalid", f'TokenRequest.{GROUP} "{name}" is invalid: {msgs}',
                           {"name": name, "group": GROUP, "kind": "TokenRequest", "causes": causes})


def create_token(registry, tokens, namespace: str, name: str, body) -> dict:
    """The TokenRequest `body` answered; `tokens` is the apiserver's ServiceAccountTokens."""
    if not isinstance(body, dict) or body.get("kind") not in (None, "TokenRequest"):
        raise errors.bad_request("the body must be a TokenRequest")
    spec = dict(body.get("spec") or {})
    spec["audiences"] = list(spec.get("audiences") or tokens.audiences)
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = DEFAULT_EXPIRATION_SECONDS
    causes = validate_token_request(spec)
    if causes:
        raise _invalid(name, causes)
    sa = registry.get(SERVICE_ACCOUNT, namespace, name)
    bound = {}
    ref = spec.get("boundObjectRef")
    if ref:
        ref = spec["boundObjectRef"] = dict(ref)
        rt = BINDABLE.get(ref.get("kind"))
        if rt is None or ref.get("apiVersion", "v1") != "v1":
            raise errors.bad_request(f"cannot bind token to object of type "
                                     f"{ref.get('apiVersion', '')}, Kind={ref.get('kind', '')}")
        obj = registry.get(rt, namespace if rt.namespaced else None, ref.get("name") or "")
        uid = obj["metadata"]["uid"]
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.APIError(
                409, "Conflict", f'Operation cannot be fulfilled on {rt.kind} "{ref["name"]}": the UID '
                f"in the bound object reference ({ref['uid']}) does not match the UID in record. "
                "The object might have been deleted and then recreated",
                {"name": ref["name"], "kind": rt.kind})
        ref["uid"] = uid
        bound[rt.kind.lower()] = obj
        if rt is POD:
            runs_as = (obj.get("spec") or {}).get("serviceAccountName") or "default"
            if runs_as != name:
                raise errors.bad_request(f'cannot bind token for serviceaccount "{name}" to pod running '
                                         "with different serviceaccount name.")
            node_name = (obj.get("spec") or {}).get("nodeName")
            if node_name:
                try:
                    bound["node"] = registry.get(NODE, None, node_name)
                except errors.APIError as err:
                    if err.code != 404:
                        raise
    token, exp = tokens.issuer.issue(sa, spec["audiences"], spec["expirationSeconds"], **bound)
    return {"kind": "TokenRequest", "apiVersion": f"{GROUP}/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": meta.now_rfc3339()},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp":
                       datetime.fromtimestamp(exp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}}
