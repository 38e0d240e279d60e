"""The review APIs: "may I?", "may they?", "what may I?", "who am I?" -- asked of the authorizer.

    authorization.k8s.io/v1 SelfSubjectAccessReview    kubectl auth can-i create pods
                            SubjectAccessReview        (a webhook asks for another user)
                            LocalSubjectAccessReview   the same, in the namespace of its path
                            SelfSubjectRulesReview     kubectl auth can-i --list
    authentication.k8s.io/v1 SelfSubjectReview         kubectl auth whoami

None is stored: the apiserver answers a create (201) with the object it was given and
its `status` filled in, from the very authorizer that guards every request (so
`can-i` says what a request would meet; with `--as`, the impersonated user's). The
rules review asks each authorizer that can list rules (RBAC; the Node authorizer says
its rules cannot be listed: `incomplete`).
"""
from __future__ import annotations

from ..api import validation
from ..api.kinds.authorization import LOCAL_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_RULES_REVIEW, SUBJECT_ACCESS_REVIEW
from . import errors
from .auth.authorizer import AlwaysAllow, Attributes, Decision, UnionAuthorizer
from .auth.rbac import aggregate
from .auth.requestinfo import RequestInfo
from .auth.user import UserInfo


ATTRIBUTE_STRINGS = ("verb", "group", "version", "namespace", "resource", "subresource", "name", "path")


def review(rt, namespace: str | None, body, user: UserInfo, authorizer) -> dict:
    """The answer to one review `body` of kind `rt`, asked by `user` (for the Self- kinds)."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"the body must be a {rt.kind}")
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    if rt is SELF_SUBJECT_RULES_REVIEW:
        status = rules_review(spec, user, authorizer)
    else:
        if rt is SUBJECT_ACCESS_REVIEW or rt is LOCAL_SUBJECT_ACCESS_REVIEW:
            user = _spec_user(rt, spec)
        if rt is LOCAL_SUBJECT_ACCESS_REVIEW:
            spec = _in_namespace(rt, spec, namespace)
        status = access_review(rt, spec, user, authorizer)
    md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    md = dict(md, creationTimestamp=None)
    if rt.namespaced:
        md["namespace"] = namespace
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": md, "spec": spec, "status": status}


def access_review(rt, spec: dict, user: UserInfo, authorizer) -> dict:
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    for field, attrs, go_type in (("resourceAttributes", resource, "v1.ResourceAttributes"),
                                  ("nonResourceAttributes", non_resource, "v1.NonResourceAttributes")):
        # the decoder's refusal of a wrong type (a list here was a 500)
        if attrs is not None and (not isinstance(attrs, dict) or not all(
                isinstance(v, str) for k, v in attrs.items() if k in ATTRIBUTE_STRINGS)):
            raise errors.bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                                     f"json: cannot unmarshal into Go struct field spec.{field} of type {go_type}")
    if resource is not None and non_resource is not None:
        raise errors.invalid(rt, "", [validation.invalid(
            "spec.nonResourceAttributes", non_resource, "cannot be specified in combination with resourceAttributes")])
    if resource is None and non_resource is None:
        raise errors.invalid(rt, "", [validation.invalid(
            "spec.resourceAttributes", None, "exactly one of nonResourceAttributes or resourceAttributes "
                                             "must be specified")])
    if resource is not None:
        info = RequestInfo(path="", verb=resource.get("verb", ""), is_resource_request=True,
                           api_group=resource.get("group", ""), api_version=resource.get("version", ""),
                           namespace=resource.get("namespace", ""), resource=resource.get("resource", ""),
                           subresource=resource.get("subresource", ""), name=resource.get("name", ""))
    else:
        info = RequestInfo(path=non_resource.get("path", ""), verb=non_resource.get("verb", ""))
    decision, reason = authorizer.authorize(Attributes(user, info))
    status = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    return status


def _spec_user(rt, spec: dict) -> UserInfo:
    if not spec.get("user") and not spec.get("groups"):
        raise errors.invalid(rt, "", [validation.invalid("spec.user", spec.get("user", ""),
                                                         "at least one of user or group must be specified")])
    return UserInfo(spec.get("user", ""), spec.get("uid", ""), tuple(spec.get("groups") or ()),
                    dict(spec.get("extra") or {}))


def _in_namespace(rt, spec: dict, namespace: str) -> dict:
    if spec.get("nonResourceAttributes") is not None:
        raise errors.invalid(rt, "", [validation.invalid("spec.nonResourceAttributes",
                                                         spec["nonResourceAttributes"],
                                                         "disallowed on this kind of request")])
    attrs = spec.get("resourceAttributes")
    if isinstance(attrs, dict):
        if attrs.get("namespace") and attrs["namespace"] != namespace:
            raise errors.bad_request(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
        spec = dict(spec, resourceAttributes=dict(attrs, namespace=namespace))
    return spec


# ------------------------------------------------------------------ rules
def rules_review(spec: dict, user: UserInfo, authorizer) -> dict:
    namespace = spec.get("namespace") or ""
    if not namespace:
        raise errors.bad_request("no namespace on request")
    rules, errs, incomplete = rules_for(authorizer, user, namespace)
    status = {"resourceRules": [], "nonResourceRules": [], "incomplete": incomplete}
    for rule in rules:
        if rule.get("nonResourceURLs"):
            status["nonResourceRules"].append({"verbs": list(rule.get("verbs") or []),
                                               "nonResourceURLs": list(rule["nonResourceURLs"])})
        else:
            r = {"verbs": list(rule.get("verbs") or [])}
            for key in ("apiGroups", "resources", "resourceNames"):
                if rule.get(key):
                    r[key] = list(rule[key])
            status["resourceRules"].append(r)
    if errs:
        status["evaluationError"] = aggregate(errs)
    return status


def rules_for(authorizer, user: UserInfo, namespace: str) -> tuple[list[dict], list[str], bool]:
    """(rules, errors, incomplete) of `user` in `namespace`, from every authorizer that can
    say (Kubernetes' RuleResolver): RBAC's rules, AlwaysAllow's everything."""
    if isinstance(authorizer, UnionAuthorizer):
        rules, errs, incomplete = [], [], False
        for one in authorizer.authorizers:
            r, e, i = rules_for(one, user, namespace)
            rules += r
            errs += e
            incomplete |= i
        return rules, errs, incomplete
    if isinstance(authorizer, AlwaysAllow):
        return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                {"verbs": ["*"], "nonResourceURLs": ["*"]}], [], False
    if hasattr(authorizer, "rules_for"):
        rules, errs = authorizer.rules_for(user, namespace)
        return rules, errs, bool(errs)
    return [], [], False


# ------------------------------------------------------------------ who am I
def self_subject_review(user: UserInfo) -> dict:
    """authentication.k8s.io/v1 SelfSubjectReview: the user as this apiserver authenticated it."""
    info = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "status": {"userInfo": info}}
