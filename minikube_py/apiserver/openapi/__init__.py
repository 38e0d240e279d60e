"""OpenAPI: what the API's objects look like, for `kubectl explain`, `kubectl apply` and
field validation -- all derived from the kinds' declarations and protobuf messages.

    schema.py           protobuf message / CRD schema -> OpenAPI definition
    documents.py        /openapi/v2, /openapi/v3 and its group-version documents (cached)
    fieldvalidation.py  ?fieldValidation=Strict|Warn: unknown and duplicate fields
"""
from .documents import DOCUMENTS, Documents, group_version_path, v2_response, v3_response
from .fieldvalidation import check as check_fields, warning_header

__all__ = ["DOCUMENTS", "Documents", "check_fields", "group_version_path", "v2_response", "v3_response",
           "warning_header"]
