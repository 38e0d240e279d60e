"""A small schemathesis run against every path of the apiserver's OpenAPI: no 5xx.

The CI-sized cut of benchmarks/fuzz_api.py (which runs for minutes over every
operation and prints its figures): for 30 s, a few valid and invalid requests for the
operations of the /openapi/v3 documents taken in a random order -- each run covers
another part -- sent to the session's apiserver on its real etcd.
"""
from __future__ import annotations

import importlib.util
import os
import sys

import requests

FUZZ = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "fuzz_api.py")


def load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_api", FUZZ)
    module = sys.modules["fuzz_api"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_fuzz_of_every_operation_finds_no_5xx(api_url):
    report = load_fuzzer().fuzz(api_url, budget_s=30, examples=3, spec="v3", shuffle=True)
    print("\n".join(report.lines()))
    assert report.count_5xx == 0, "\n".join(report.lines())
    assert not report.transport_errors, "\n".join(report.lines())
    assert report.requests > 0          # how many fit in 30 s depends on the machine's load
    assert requests.get(api_url + "/readyz", timeout=10).status_code == 200
