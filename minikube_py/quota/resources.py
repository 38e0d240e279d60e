"""Resource lists (`{"requests.cpu": "500m", "pods": "10"}`) and their arithmetic.

Quota compares sums of quantities, so every amount is an exact Fraction (api/quantity.py)
while it is computed, and is written back as Kubernetes writes a Quantity: the shortest
exact form ("500m", "1", "2k", "128Mi").
"""
from __future__ import annotations

from fractions import Fraction

from ..api.quantity import BINARY_SUFFIXES, QuantityError, parse_quantity

Amounts = dict[str, Fraction]

# decimal suffixes from the largest: a whole multiple of 10**e is written with e's suffix
_DECIMAL = ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, ""),
            (-3, "m"), (-6, "u"), (-9, "n"))
_BINARY = sorted(BINARY_SUFFIXES.items(), key=lambda kv: -kv[1])
_BYTES = ("memory", "storage", "ephemeral-storage")


def parse(resources: dict | None) -> Amounts:
    """A resource list as exact amounts; quantities that do not parse are left out
    (validation has refused them already)."""
    out = {}
    for name, raw in (resources or {}).items():
        try:
            out[name] = parse_quantity(raw)
        except QuantityError:
            pass
    return out


def format_amount(name: str, value: Fraction) -> str:
    """A Quantity's canonical text: bytes in Ki/Mi/Gi when exact, else decimal SI."""
    if value == 0:
        return "0"
    sign, value = ("-", -value) if value < 0 else ("", value)
    if name.split(".")[-1] in _BYTES or name.endswith("storage"):
        if value.denominator == 1 and value >= 1024:
            for suffix, size in _BINARY:
                if value % size == 0:
                    return f"{sign}{value // size}{suffix}"
    for exp, suffix in _DECIMAL:
        scaled = value / Fraction(10) ** exp
        if scaled.denominator == 1:
            return f"{sign}{scaled.numerator}{suffix}"
    return f"{sign}{-(-value * 10**9 // 1)}n"         # finer than nano: rounded up


def to_strings(amounts: Amounts) -> dict[str, str]:
    return {name: format_amount(name, v) for name, v in sorted(amounts.items())}


def add(a: Amounts, b: Amounts) -> Amounts:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def subtract_nonnegative(a: Amounts, b: Amounts) -> Amounts:
    """a - b, never below 0 (quota.SubtractWithNonNegativeResult)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = max(Fraction(0), out.get(k, 0) - v)
    return out


def mask(a: Amounts, names) -> Amounts:
    names = set(names)
    return {k: v for k, v in a.items() if k in names}


def is_zero(a: Amounts) -> bool:
    return all(v == 0 for v in a.values())


def exceeded(used: Amounts, hard: Amounts) -> list[str]:
    """The names where used > hard (only names both lists have), sorted."""
    return sorted(k for k, v in used.items() if k in hard and v > hard[k])


def pretty(amounts: Amounts) -> str:
    """`pods=1,requests.cpu=500m`: how quota's messages print a resource list."""
    return ",".join(f"{k}={format_amount(k, v)}" for k, v in sorted(amounts.items()))
