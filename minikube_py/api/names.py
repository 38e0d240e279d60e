"""The naming rules Kubernetes checks: DNS-1123 names, label keys and label values.

Each function returns a list of messages, empty when the text is fine, worded as
Kubernetes words them (k8s.io/apimachinery/pkg/util/validation), so users see the
same errors as from a real cluster. Selectors and validation both use them.
"""
import re

__all__ = ["is_dns1123_label", "is_dns1123_subdomain", "is_dns1035_label", "is_qualified_name",
           "is_valid_label_value", "max_len_error", "regex_error"]

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"

DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                     "characters or '-', and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                         "characters, '-' or '.', and must start and end with an alphanumeric "
                         "character")
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                     "start with an alphabetic character, and end with an alphanumeric character")
QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
                      "and must start and end with an alphanumeric character")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Kubernetes' wording: "<msg> (e.g. 'a',  or 'b', regex used for validation is '<fmt>')".

    (The double space after each comma is really in Kubernetes' messages.)
    """
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def _matches(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


def _name_errors(value: str, max_len: int, fmt: str, msg: str, *examples: str) -> list[str]:
    errs = []
    if len(value) > max_len:
        errs.append(max_len_error(max_len))
    if not _matches(fmt, value):
        errs.append(regex_error(msg, fmt, *examples))
    return errs


def is_dns1123_label(value: str) -> list[str]:
    """Namespace names, container names, ...: at most 63 characters like `my-name`."""
    return _name_errors(value, 63, DNS1123_LABEL_FMT, DNS1123_LABEL_MSG, "my-name", "123-abc")


def is_dns1123_subdomain(value: str) -> list[str]:
    """Most object names: dotted labels, at most 253 characters, like `example.com`."""
    return _name_errors(value, 253, DNS1123_SUBDOMAIN_FMT, DNS1123_SUBDOMAIN_MSG, "example.com")


def is_dns1035_label(value: str) -> list[str]:
    """Service names: like a DNS-1123 label but starting with a letter (`my-name`)."""
    return _name_errors(value, 63, DNS1035_LABEL_FMT, DNS1035_LABEL_MSG, "my-name", "abc-123")


def is_qualified_name(value: str) -> list[str]:
    """Label and annotation keys: an optional DNS subdomain prefix and '/', then a name."""
    parts = value.split("/")
    errs = []
    if len(parts) > 2:
        return ["a qualified name " + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT,
                                                  "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _matches(QUALIFIED_NAME_FMT, name):
        errs.append("name part " + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT,
                                               "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """Label values: empty, or a name of at most 63 characters such as `my_value`."""
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _matches(LABEL_VALUE_FMT, value):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs
