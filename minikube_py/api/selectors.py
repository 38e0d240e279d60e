"""Label selectors and field selectors: how clients ask for "only these objects".

A *label selector* such as `app=web,tier in (front,back),!canary` filters by
metadata.labels. It comes as text (`?labelSelector=` on list and watch, kubectl -l)
or as an object inside specs (a Deployment's `spec.selector`):

    {"matchLabels": {"app": "web"},
     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}

Both forms become the same list of requirements, all of which must hold.

A *field selector* such as `spec.nodeName=node-1,status.phase!=Succeeded` filters by
other fields of the object (`?fieldSelector=`); it knows only = and !=.
"""
import re
from dataclasses import dataclass

from .names import is_qualified_name, is_valid_label_value

__all__ = ["SelectorError", "Requirement", "LabelSelector", "FieldSelector"]


class SelectorError(ValueError):
    """A selector that cannot be parsed or is not valid."""


# ---------------------------------------------------------------- label selectors

@dataclass(frozen=True)
class Requirement:
    """One condition on one label. `operator` is one of
    "=", "!=", "in", "notin", "exists", "!" (does not exist), "gt", "lt"."""
    key: str
    operator: str
    values: tuple = ()

    def matches(self, labels: dict) -> bool:
        has = self.key in labels
        value = str(labels[self.key]) if has else None
        op = self.operator
        if op == "exists":
            return has
        if op == "!":
            return not has
        if op in ("=", "in"):
            return has and value in self.values
        if op in ("!=", "notin"):
            return not has or value not in self.values
        # gt / lt compare the label as an integer (used by node affinity)
        try:
            number = int(value) if has else None
        except ValueError:
            return False
        if number is None:
            return False
        return number > int(self.values[0]) if op == "gt" else number < int(self.values[0])

    def to_string(self) -> str:
        op, key = self.operator, self.key
        if op == "exists":
            return key
        if op == "!":
            return "!" + key
        if op in ("in", "notin"):
            return f"{key} {op} ({','.join(sorted(self.values))})"
        symbol = {"gt": ">", "lt": "<"}.get(op, op)
        return f"{key}{symbol}{self.values[0]}"


def _requirement(key: str, operator: str, values=()) -> Requirement:
    """Build a Requirement after checking the key and values like Kubernetes does."""
    errs = is_qualified_name(key)
    if errs:
        raise SelectorError(f"invalid label key {key!r}: {'; '.join(errs)}")
    values = tuple(str(v) for v in values)
    if operator in ("gt", "lt"):
        if len(values) != 1 or not re.fullmatch(r"[+-]?[0-9]+", values[0]):
            raise SelectorError(f"for '{operator}' the value of {key!r} must be one integer")
        return Requirement(key, operator, values)
    for value in values:
        errs = is_valid_label_value(value)
        if errs:
            raise SelectorError(f"invalid label value {value!r} for key {key!r}: {'; '.join(errs)}")
    return Requirement(key, operator, values)


# The label selector text is split into tokens: identifiers and these symbols.
_TOKEN = re.compile(r"\s*(==|!=|[=!(),<>]|[^\s=!(),<>]+)")


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _is_identifier(token) -> bool:
    return token is not None and token not in ("==", "!=", "=", "!", "(", ")", ",", "<", ">")


class _LabelParser:
    """A small recursive-descent parser over the token list (one method per grammar rule):

        selector    ::= requirement ("," requirement)*
        requirement ::= "!" KEY | KEY | KEY ("=" | "==" | "!=") VALUE?
                      | KEY ("in" | "notin") "(" VALUE ("," VALUE)* ")" | KEY (">" | "<") INT
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self):
        token = self.peek()
        self.pos += 1
        return token

    def fail(self, expected: str):
        found = self.peek()
        found = "end of string" if found is None else repr(found)
        raise SelectorError(f"unable to parse label selector {self.text!r}: "
                            f"found {found}, expected {expected}")

    def key(self) -> str:
        if not _is_identifier(self.peek()):
            self.fail("a label key")
        return self.next()

    def selector(self) -> list[Requirement]:
        requirements = [self.requirement()]
        while self.peek() == ",":
            self.next()
            requirements.append(self.requirement())
        if self.peek() is not None:
            self.fail("',' or end of string")
        return requirements

    def requirement(self) -> Requirement:
        if self.peek() == "!":
            self.next()
            return _requirement(self.key(), "!")
        key = self.key()
        op = self.peek()
        if op is None or op == ",":
            return _requirement(key, "exists")
        if op in ("=", "==", "!="):
            self.next()
            value = self.next() if _is_identifier(self.peek()) else ""   # `a=` means a == ""
            return _requirement(key, "!=" if op == "!=" else "=", [value])
        if op in ("<", ">"):
            self.next()
            if not _is_identifier(self.peek()):
                self.fail("an integer")
            return _requirement(key, "gt" if op == ">" else "lt", [self.next()])
        if op in ("in", "notin"):
            self.next()
            return _requirement(key, op, self.value_set())
        self.fail("'=', '!=', 'in', 'notin', ',' or end of string")

    def value_set(self) -> list[str]:
        if self.next() != "(":
            self.pos -= 1
            self.fail("'('")
        values = []
        while True:
            values.append(self.next() if _is_identifier(self.peek()) else "")
            token = self.next()
            if token == ")":
                return values
            if token != ",":
                self.pos -= 1
                self.fail("',' or ')'")


class LabelSelector:
    """A list of label requirements; an object matches when all of them hold."""

    def __init__(self, requirements=()):
        self.requirements = list(requirements)

    @classmethod
    def parse(cls, text: str) -> "LabelSelector":
        """Parse the text form, e.g. "app=web,env!=prod,tier in (a,b),!canary"."""
        if text is None or not text.strip():
            return cls()
        return cls(_LabelParser(text).selector())

    @classmethod
    def from_dict(cls, sel) -> "LabelSelector":
        """Build from the object form {matchLabels: {...}, matchExpressions: [...]}.

        None and {} give the empty selector, which matches everything; whether an
        empty selector should select everything or nothing is the caller's choice.
        The Gt/Lt operators of node affinity's selector terms are accepted too.
        """
        if not sel:
            return cls()
        if not isinstance(sel, dict):
            raise SelectorError("a label selector must be an object")
        reqs = [_requirement(k, "=", [v]) for k, v in (sel.get("matchLabels") or {}).items()]
        operators = {"In": "in", "NotIn": "notin", "Exists": "exists",
                     "DoesNotExist": "!", "Gt": "gt", "Lt": "lt"}
        for expr in sel.get("matchExpressions") or []:
            key, op, values = expr.get("key", ""), expr.get("operator"), expr.get("values") or []
            if op not in operators:
                raise SelectorError(f"{op!r} is not a valid label selector operator")
            if op in ("In", "NotIn") and not values:
                raise SelectorError(f"values for key {key!r}: must be specified when "
                                    "`operator` is 'In' or 'NotIn'")
            if op in ("Exists", "DoesNotExist") and values:
                raise SelectorError(f"values for key {key!r}: may not be specified when "
                                    "`operator` is 'Exists' or 'DoesNotExist'")
            reqs.append(_requirement(key, operators[op], values))
        return cls(reqs)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels) -> bool:
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)

    def to_string(self) -> str:
        """The canonical text form, requirements sorted by key as Kubernetes prints them."""
        reqs = sorted(self.requirements, key=lambda r: r.key)
        return ",".join(r.to_string() for r in reqs)

    __str__ = to_string

    def __repr__(self):
        return f"LabelSelector({self.to_string()!r})"

    def __eq__(self, other):
        return isinstance(other, LabelSelector) and self.to_string() == other.to_string()


# ---------------------------------------------------------------- field selectors

def _split_unescaped(text: str, sep: str) -> list[str]:
    """Split on `sep` except where it is escaped with a backslash (`\\,`)."""
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current + ("\\" if escaped else ""))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def field_value(obj: dict, path: str) -> str:
    """Walk a dotted path ("spec.nodeName") into the object; missing fields read as ""."""
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FieldSelector:
    """Terms `field=value`, `field==value` or `field!=value`, all of which must hold."""

    def __init__(self, requirements=()):
        # a list of (field, op, value) with op "=" or "!="
        self.requirements = list(requirements)

    @classmethod
    def parse(cls, text: str) -> "FieldSelector":
        if text is None or not text.strip():
            return cls()
        reqs = []
        for term in _split_unescaped(text, ","):
            match = re.fullmatch(r"\s*([^=!\s]+)\s*(!=|==|=)(.*)", term)
            if not match:
                raise SelectorError(f"invalid field selector {text!r}: can't understand {term!r}")
            field, op, value = match.groups()
            reqs.append((field, "!=" if op == "!=" else "=", _unescape(value.strip())))
        return cls(reqs)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: dict) -> bool:
        for field, op, value in self.requirements:
            if (field_value(obj, field) == value) != (op == "="):
                return False
        return True

    def value_for(self, field: str):
        """The value an `=` term requires of `field`, or None (e.g. to look up one name)."""
        for f, op, value in self.requirements:
            if f == field and op == "=":
                return value
        return None

    def to_string(self) -> str:
        return ",".join(f"{f}{op}{v}" for f, op, v in self.requirements)

    __str__ = to_string

    def __repr__(self):
        return f"FieldSelector({self.to_string()!r})"
