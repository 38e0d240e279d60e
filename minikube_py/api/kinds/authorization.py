"""The authorization.k8s.io group (`/apis/authorization.k8s.io/v1`): the access reviews.

None is stored: each is a question the apiserver answers at once, a create (201)
carrying the answer in `status` (apiserver/accessreview.py):

  SelfSubjectAccessReview   may I do this?              (`kubectl auth can-i`)
  SubjectAccessReview       may this user do this?       (webhooks, `can-i --as` goes through
                                                          impersonation instead)
  LocalSubjectAccessReview  the same, in one namespace   (namespace admins)
  SelfSubjectRulesReview    what may I do in namespace x? (`kubectl auth can-i --list`)

(and authentication.k8s.io's SelfSubjectReview, "who am I?", in authentication.py).
"""
from __future__ import annotations

from .kind import Kind

GROUP, VERSION = "authorization.k8s.io", "v1"
CREATE_ONLY = ("create",)


def _review(kind: str, plural: str, namespaced: bool = False) -> Kind:
    return Kind(GROUP, VERSION, kind, plural, namespaced=namespaced, verbs=CREATE_ONLY, has_status=False,
                counts_generation=False, eager_watch_cache=False, proto=f"k8s.io.api.authorization.v1.{kind}")


SELF_SUBJECT_ACCESS_REVIEW = _review("SelfSubjectAccessReview", "selfsubjectaccessreviews")
SUBJECT_ACCESS_REVIEW = _review("SubjectAccessReview", "subjectaccessreviews")
LOCAL_SUBJECT_ACCESS_REVIEW = _review("LocalSubjectAccessReview", "localsubjectaccessreviews", namespaced=True)
SELF_SUBJECT_RULES_REVIEW = _review("SelfSubjectRulesReview", "selfsubjectrulesreviews")

KINDS = (LOCAL_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_RULES_REVIEW, SUBJECT_ACCESS_REVIEW)
