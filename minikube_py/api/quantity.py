"""Resource quantities: "500m", "1Gi", "2", "1e3" ...

Kubernetes writes amounts of CPU, memory, GPUs, ... as *quantities*: a number and
an optional suffix. We turn them into exact `fractions.Fraction` values, so that
"100m" + "900m" is exactly 1 and never 0.9999999 (floats would round).

Grammar (from the Kubernetes docs of resource.Quantity):

    quantity ::= signedNumber suffix
    number   ::= digits | digits "." digits | digits "." | "." digits
    suffix   ::= binarySI (Ki Mi Gi Ti Pi Ei, powers of 1024)
               | decimalSI (n u m "" k M G T P E, powers of 1000)
               | ("e" | "E") signedInteger            (a power of ten)
"""
import functools
import math
import re
from fractions import Fraction

__all__ = ["QuantityError", "parse_quantity", "format_cpu_millis", "format_bytes",
           "cpu_millis", "to_int", "QUANTITY_REGEX"]

BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL_SUFFIXES = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
                    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
                    "E": 10**18}

# The pattern Kubernetes quotes in its error message for a malformed quantity.
QUANTITY_REGEX = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

_QUANTITY = re.compile(r"""
    ([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))          # the number: 1, 1.5, 1., .5
    (Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE]?)  # the suffix
    """, re.VERBOSE)


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


def parse_quantity(s) -> Fraction:
    """Return the exact value of a quantity ("250m" -> 1/4, "1Ki" -> 1024).

    Numbers (int, float, Fraction) are accepted too, as JSON manifests may carry
    `cpu: 2` or `cpu: 0.5` instead of strings. The sign is allowed; callers
    decide whether a negative amount makes sense.
    """
    if isinstance(s, bool):                      # bool is an int in Python: refuse it
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_REGEX}'")
    if isinstance(s, (int, Fraction)):
        return Fraction(s)
    if isinstance(s, float):
        if not math.isfinite(s):
            raise QuantityError(f"invalid quantity {s!r}")
        return Fraction(repr(s))                 # "0.1" exactly, not the binary float
    if not isinstance(s, str):
        raise QuantityError(f"quantity must be a string or a number, not {type(s).__name__}")
    return _parse_text(s)


@functools.lru_cache(maxsize=1024)
def _parse_text(s: str) -> Fraction:
    """A quantity written as text. Remembered: a cluster uses few distinct ones ("100m",
    "128Mi", ...), and every pod create, scheduling decision and kubelet admission
    parses them again; Fraction arithmetic is slow in Python."""
    match = _QUANTITY.fullmatch(s)
    if not match:
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_REGEX}'")
    number, suffix = match.groups()
    value = Fraction(number.rstrip(".") if number.endswith(".") else number)
    if suffix in BINARY_SUFFIXES:
        return value * BINARY_SUFFIXES[suffix]
    if suffix in DECIMAL_SUFFIXES:
        return value * DECIMAL_SUFFIXES[suffix]
    return value * Fraction(10) ** int(suffix[1:])   # "e3", "E-2"


def to_int(q) -> int:
    """The quantity rounded up to a whole number, as Quantity.Value() does."""
    return math.ceil(parse_quantity(q))


def cpu_millis(q) -> int:
    """CPU in thousandths of a core, rounded up ("0.1" -> 100, "1" -> 1000)."""
    return math.ceil(parse_quantity(q) * 1000)


def format_cpu_millis(frac) -> str:
    """Show a CPU amount the way Kubernetes prints it: "2" for whole cores, else "250m"."""
    value = parse_quantity(frac)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{math.ceil(value * 1000)}m"


def format_bytes(frac) -> str:
    """Show an amount of bytes with the largest exact suffix: 2**30 -> "1Gi", 1500 -> "1500".

    Binary suffixes (Ki, Mi, ...) are tried first, then decimal ones (k, M, ...);
    an amount that neither divides evenly is printed as a plain number, rounded up.
    """
    value = math.ceil(parse_quantity(frac))
    if value == 0:
        return "0"
    for table in (BINARY_SUFFIXES, {k: v for k, v in DECIMAL_SUFFIXES.items() if v >= 1000}):
        for suffix, size in sorted(table.items(), key=lambda kv: -kv[1]):
            if value % size == 0:
                return f"{value // size}{suffix}"
    return str(value)
