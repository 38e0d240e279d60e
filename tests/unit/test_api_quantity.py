from fractions import Fraction

import pytest

from minikube_py.api.quantity import (QuantityError, cpu_millis, format_bytes,
                                      format_cpu_millis, parse_quantity, to_int)


@pytest.mark.parametrize("text, value", [
    ("500m", Fraction(1, 2)), ("1", 1), ("0.5", Fraction(1, 2)), (".5", Fraction(1, 2)),
    ("1.", 1), ("+2", 2), ("-1", -1), ("0", 0),
    ("1Ki", 1024), ("128Mi", 128 * 2**20), ("1Gi", 2**30), ("2Ei", 2 * 2**60),
    ("1k", 1000), ("1M", 10**6), ("3G", 3 * 10**9), ("1E", 10**18),
    ("1e3", 1000), ("1E3", 1000), ("5e-1", Fraction(1, 2)), ("1e+2", 100),
    ("100n", Fraction(1, 10**7)), ("2u", Fraction(2, 10**6)), ("1.5Gi", 3 * 2**29),
])
def test_parse_valid(text, value):
    assert parse_quantity(text) == value


def test_parse_numbers():
    assert parse_quantity(2) == 2
    assert parse_quantity(0.1) == Fraction(1, 10)      # exact, not the binary float
    assert parse_quantity(Fraction(3, 4)) == Fraction(3, 4)


@pytest.mark.parametrize("bad", ["abc", "1.2.3", "", "-", ".", "1K", "1e", "1Gb", " 1",
                                 "1 ", "1m2", "Mi", "1ki", None, True, [1], float("nan")])
def test_parse_invalid(bad):
    with pytest.raises(QuantityError):
        parse_quantity(bad)


def test_quantity_error_is_value_error():
    assert issubclass(QuantityError, ValueError)


def test_conversions():
    assert cpu_millis("0.1") == 100
    assert cpu_millis("250m") == 250
    assert cpu_millis(2) == 2000
    assert cpu_millis("1n") == 1          # rounded up
    assert to_int("1.5") == 2
    assert to_int("1Ki") == 1024
    assert to_int("100m") == 1


def test_format_cpu():
    assert format_cpu_millis(Fraction(1, 4)) == "250m"
    assert format_cpu_millis(0.25) == "250m"
    assert format_cpu_millis(2) == "2"
    assert format_cpu_millis(Fraction(3, 2)) == "1500m"


def test_format_bytes():
    assert format_bytes(2**30) == "1Gi"
    assert format_bytes(1536 * 2**20) == "1536Mi"
    assert format_bytes(10**9) == "1G"
    assert format_bytes(1500) == "1500"
    assert format_bytes(0) == "0"
    assert format_bytes(parse_quantity("128Mi")) == "128Mi"
