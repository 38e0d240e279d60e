"""core/v1 kinds that hold configuration for pods: ConfigMap, Secret, ServiceAccount.

None of them has a spec or a status: a ConfigMap or Secret is its `data`, which pods
read as environment variables or files; a ServiceAccount is an identity a pod runs as.

A Secret's `data` values are base64 in JSON (bytes in protobuf), as in Kubernetes;
`stringData` is a write-only convenience: on every write its plain-text values are
base64-encoded into `data` (overriding keys of the same name) and it is dropped.
"""
from __future__ import annotations

import base64
import binascii
import json
import re

from ..validation import forbidden, invalid, not_supported, required
from .columns import AGE, NAME, age_of, col
from .kind import Kind

# validation.IsConfigMapKey: a file name and an environment variable name at once
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
MAX_TOTAL_BYTES = 1024 * 1024     # etcd's request limit: ConfigMap and Secret data together

SECRET_TYPES = {
    # type: keys that must be present
    "Opaque": (),
    "kubernetes.io/service-account-token": (),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/basic-auth": (),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "bootstrap.kubernetes.io/token": (),
}


def config_key_errors(key) -> list[str]:
    if not isinstance(key, str) or not key:
        return ["a valid config key must be a non-empty string"]
    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not CONFIG_KEY.fullmatch(key):
        errs.append(CONFIG_KEY_MSG + " (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                    "regex used for validation is '[-._a-zA-Z0-9]+')")
    elif key in (".", "..") or key.startswith(".."):
        errs.append("must not be '.' or '..' or start with '..'")
    return errs


def _validate_map(m, field: str, value_check) -> tuple[list, int]:
    """Keys must be config keys; returns (causes, total bytes of the values)."""
    if m is None:
        return [], 0
    if not isinstance(m, dict):
        return [invalid(field, m, "must be a map of string keys to string values")], 0
    causes, total = [], 0
    for key, value in m.items():
        causes += [invalid(field, key, msg) for msg in config_key_errors(key)]
        size, problem = value_check(value)
        if problem:
            causes.append(invalid(f"{field}[{key}]", "<value omitted>", problem))
        total += size
    return causes, total


def _plain(value):
    if not isinstance(value, str):
        return 0, "must be a string"
    return len(value.encode()), None


def _base64(value):
    """Size of the decoded value; bad base64 is refused earlier, by base64_problem."""
    try:
        return len(base64.b64decode(value, validate=True)), None
    except (binascii.Error, ValueError, TypeError):
        return 0, "illegal base64 data"


B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def base64_problem(field: str, m) -> str | None:
    """Go decodes []byte from a base64 string while parsing JSON: bad data is a 400 there."""
    if not isinstance(m, dict):
        return None
    for key, value in m.items():
        if not isinstance(value, str):
            return f"{field}[{key}]: expected a base64-encoded string"
        ok = B64_ALPHABET.match(value).end()
        if ok < len(value) or len(value) % 4:
            return f"illegal base64 data at input byte {min(ok, len(value) - len(value) % 4)}"
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return f"illegal base64 data at input byte {len(value) - 1}"
    return None


def _immutable_update(old: dict, new: dict, fields: tuple) -> list:
    if old.get("immutable") is not True:
        return []
    causes = []
    if new.get("immutable") is not True:
        causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    for f in fields:
        if (old.get(f) or {}) != (new.get(f) or {}):
            causes.append(forbidden(f, "field is immutable when `immutable` is set"))
    return causes


def _too_big(total: int) -> list:
    if total > MAX_TOTAL_BYTES:
        return [invalid("data", "<value omitted>", f"must have at most {MAX_TOTAL_BYTES} bytes")]
    return []


# ---------------------------------------------------------------- ConfigMap
def validate_configmap(cm: dict) -> list:
    causes, total = _validate_map(cm.get("data"), "data", _plain)
    more, binary = _validate_map(cm.get("binaryData"), "binaryData", _base64)
    causes += more
    for key in set(cm.get("data") or {}) & set(cm.get("binaryData") or {}):
        causes.append(invalid("data", key, "duplicate of key present in binaryData"))
    return causes + _too_big(total + binary)


def configmap_row(cm):
    return [cm["metadata"]["name"], len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), age_of(cm)]


CONFIGMAP = Kind(
    "", "v1", "ConfigMap", "configmaps", short_names=("cm",), has_status=False, counts_generation=False,
    validate=validate_configmap, decode_check=lambda cm: base64_problem("binaryData", cm.get("binaryData")),
    validate_update=lambda old, new: _immutable_update(old, new, ("data", "binaryData")),
    columns=(NAME, col("Data", "string"), AGE), row=configmap_row,
    proto="k8s.io.api.core.v1.ConfigMap")


# ---------------------------------------------------------------- Secret
def default_secret(secret: dict):
    """type defaults to Opaque; stringData is folded into data (base64) and dropped."""
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data")
        if not isinstance(data, dict):
            data = secret["data"] = {}
        for key, value in string_data.items():
            if isinstance(value, str):
                data[key] = base64.b64encode(value.encode()).decode()
            else:                       # left for validation to report, under stringData
                secret.setdefault("stringData", {})[key] = value
    elif string_data is not None and not isinstance(string_data, dict):
        secret["stringData"] = string_data


def validate_secret(secret: dict) -> list:
    causes, total = _validate_map(secret.get("data"), "data", _base64)
    causes += _validate_map(secret.get("stringData"), "stringData", _plain)[0]
    type_ = secret.get("type") or "Opaque"
    if not isinstance(type_, str):
        return causes + [invalid("type", type_, "must be a string")]
    data = secret.get("data") or {}
    for key in SECRET_TYPES.get(type_, ()):
        if key not in data:
            causes.append(required(f"data[{key}]"))
    if type_ == "kubernetes.io/service-account-token":
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    if type_ == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" in data:
        try:
            json.loads(base64.b64decode(data[".dockerconfigjson"]))
        except (ValueError, binascii.Error):
            causes.append(invalid("data[.dockerconfigjson]", "<secret contents redacted>",
                                  "must be valid JSON"))
    return causes + _too_big(total)


def validate_secret_update(old: dict, new: dict) -> list:
    causes = _immutable_update(old, new, ("data",))
    if (old.get("type") or "Opaque") != (new.get("type") or "Opaque"):
        causes.append(invalid("type", new.get("type"), "field is immutable"))
    return causes


def secret_row(s):
    return [s["metadata"]["name"], s.get("type") or "Opaque", len(s.get("data") or {}), age_of(s)]


SECRET = Kind(
    "", "v1", "Secret", "secrets", has_status=False, counts_generation=False,
    default=default_secret, validate=validate_secret, validate_update=validate_secret_update,
    decode_check=lambda s: base64_problem("data", s.get("data")),
    columns=(NAME, col("Type"), col("Data", "string"), AGE), row=secret_row,
    proto="k8s.io.api.core.v1.Secret")


# ---------------------------------------------------------------- ServiceAccount
def validate_service_account(sa: dict) -> list:
    causes = []
    for field in ("secrets", "imagePullSecrets"):
        refs = sa.get(field)
        if refs is None:
            continue
        if not isinstance(refs, list):
            causes.append(invalid(field, refs, "must be a list"))
            continue
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict):
                causes.append(invalid(f"{field}[{i}]", ref, "must be an object"))
    auto = sa.get("automountServiceAccountToken")
    if auto is not None and not isinstance(auto, bool):
        causes.append(not_supported("automountServiceAccountToken", auto, ["true", "false"]))
    return causes


def service_account_row(sa):
    return [sa["metadata"]["name"], len(sa.get("secrets") or []), age_of(sa)]


SERVICE_ACCOUNT = Kind(
    "", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), has_status=False,
    subresources=("token",),
    counts_generation=False, validate=validate_service_account,
    columns=(NAME, col("Secrets", "string"), AGE), row=service_account_row,
    proto="k8s.io.api.core.v1.ServiceAccount")

KINDS = (CONFIGMAP, SECRET, SERVICE_ACCOUNT)
