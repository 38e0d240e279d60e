"""Fuzz every path of the apiserver from its own OpenAPI, with schemathesis.

A real apiserver on a real etcd (started here, or --server URL) is asked for
/openapi/v2 and every /openapi/v3 group document; schemathesis generates requests
for each operation of each, both valid ones (the schema's own shapes, in a real
namespace so that creates and updates really reach etcd) and invalid ones (wrong
types, missing fields, odd strings in paths and queries). The goal: never a 5xx.
A bad input must be answered with a 4xx Status, and a 500 is a bug to fix.

Prints: paths covered (that got a request), operations, requests sent, the count by status code and
the 5xx count, with the first example of each distinct 5xx.

Usage: python benchmarks/fuzz_api.py [--budget 600] [--examples 40] [--server URL]
                                     [--spec v2|v3|both] [--rbac]
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


@dataclass
class Report:
    paths: set = field(default_factory=set)
    operations: set = field(default_factory=set)
    requests: int = 0
    codes: collections.Counter = field(default_factory=collections.Counter)
    server_errors: list = field(default_factory=list)     # (method, path, code, body, request)
    transport_errors: list = field(default_factory=list)  # a dropped connection is a failure too
    generation_errors: collections.Counter = field(default_factory=collections.Counter)

    @property
    def count_5xx(self) -> int:
        return sum(n for code, n in self.codes.items() if code >= 500)

    all_paths: set = field(default_factory=set)        # what the documents declare
    all_operations: set = field(default_factory=set)

    def lines(self) -> list[str]:
        out = [f"paths covered:   {len(self.paths)} of {len(self.all_paths)}",
               f"operations:      {len(self.operations)} of {len(self.all_operations)}",
               f"requests sent:   {self.requests}",
               "by status code:  " + ", ".join(f"{c}: {n}" for c, n in sorted(self.codes.items())),
               f"5xx:             {self.count_5xx}",
               f"transport errors: {len(self.transport_errors)}"]
        out += [f"  not generated ({n}x): {what}" for what, n in self.generation_errors.most_common(5)]
        seen = set()
        for method, path, code, body, sent in self.server_errors:
            if (method, path, code) not in seen:
                seen.add((method, path, code))
                out.append(f"  {code} {method} {path}: {body[:300]!r}\n      sent: {sent[:300]!r}")
        for method, path, err in self.transport_errors[:10]:
            out.append(f"  transport {method} {path}: {err}")
        return out


def schemas(server: str, spec: str, headers: dict):
    """The apiserver's OpenAPI documents as schemathesis schemas: v2 whole, v3 per group."""
    import schemathesis
    if spec in ("v2", "both"):
        yield schemathesis.openapi.from_dict(requests.get(server + "/openapi/v2", headers=headers, timeout=30).json())
    if spec in ("v3", "both"):
        index = requests.get(server + "/openapi/v3", headers=headers, timeout=30).json()
        for ref in index["paths"].values():
            doc = requests.get(server + ref["serverRelativeURL"], headers=headers, timeout=30).json()
            yield schemathesis.openapi.from_dict(doc)


MIN_SHARE_S = 2.0


class OutOfTime(Exception):
    """This operation's share of the budget is spent: on to the next."""


def _has_typed_input(op) -> bool:
    definition = op.definition.raw
    params = list(definition.get("parameters", []))
    return "requestBody" in definition or any(
        p.get("in") == "body" or (p.get("in") == "query" and (p.get("type") or p.get("schema", {}).get("type"))
                                  not in (None, "string")) for p in params)


def fuzz(server: str, budget_s: float = 600, examples: int = 40, spec: str = "both",
         namespace: str | None = None, shuffle: bool = False, headers: dict | None = None,
         admin_headers: dict | None = None) -> Report:
    """Send `examples` positive and `examples` negative cases per operation, within budget_s.

    Generating a case costs hypothesis 0.1-1 s (many drafts are filtered out): a budget
    too small for every operation covers the first ones, or with `shuffle`, a random part.
    `headers` go with every request (a bearer token); `admin_headers` make the namespace."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from hypothesis.reporting import with_reporter
    from schemathesis.generation import GenerationMode

    if namespace is None:
        namespace = f"fuzz-{os.urandom(3).hex()}"
        requests.post(server + "/api/v1/namespaces", json={"metadata": {"name": namespace}},
                      headers=admin_headers or headers, timeout=30).raise_for_status()
    report = Report()
    session = requests.Session()
    session.headers.update(headers or {})
    operations = [(schema, result.ok()) for schema in schemas(server, spec, headers or {})
                  for result in schema.get_all_operations()]
    deadline = time.monotonic() + budget_s
    # Negative cases need something a schema can make invalid: a body or a typed query
    # parameter (a path's string can be anything; hypothesis would search in vain).
    runs = [(op, mode) for _schema, op in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            if mode is GenerationMode.POSITIVE or _has_typed_input(op)]
    if shuffle:
        random.shuffle(runs)
    report.all_paths = {op.path for _schema, op in operations}
    report.all_operations = {(op.method.upper(), op.path) for _schema, op in operations}

    def send(op, case):
        if isinstance(case.query, dict) and str(case.query.get("watch", "")).lower() in ("1", "true"):
            case.query["timeoutSeconds"] = 1      # a watch streams until then: keep it short
        report.requests += 1
        report.paths.add(op.path)
        report.operations.add((op.method.upper(), op.path))
        try:
            resp = case.call(base_url=server, session=session, timeout=30)
        except requests.RequestException as err:
            report.transport_errors.append((op.method.upper(), op.path, repr(err)))
            return
        report.codes[resp.status_code] += 1
        if resp.status_code >= 500:
            sent = f"{case.method} {case.formatted_path} q={case.query} h={case.headers} body={case.body!r}"
            report.server_errors.append((op.method.upper(), op.path, resp.status_code, resp.text, sent))

    for done, (op, mode) in enumerate(runs):
        left = deadline - time.monotonic()
        if left <= 0:
            return report
        pins = {"namespace": namespace} if mode is GenerationMode.POSITIVE and "{namespace}" in op.path else None
        try:
            strategy = op.as_strategy(mode, path_parameters=pins)
        except Exception as err:      # noqa: BLE001 - a schema schemathesis cannot use is reported
            report.transport_errors.append((op.method.upper(), op.path, f"no strategy: {err!r}"))
            continue
        # an even share of what is left (time a quick operation did not use goes to the rest),
        # but enough for a case or two even when the budget cannot cover every operation
        op_deadline = time.monotonic() + min(left, max(left / (len(runs) - done), MIN_SHARE_S))

        @settings(max_examples=examples, deadline=None, database=None, report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        @given(case=strategy)
        def run(case):
            if time.monotonic() > op_deadline:
                raise OutOfTime()
            send(op, case)

        with warnings.catch_warnings(), with_reporter(lambda *_: None):
            warnings.simplefilter("ignore")
            try:
                run()
            except (Unsatisfiable, OutOfTime):
                pass
            except Exception as err:  # noqa: BLE001 - schemathesis could not build or send a case
                report.generation_errors[f"{type(err).__name__}: {str(err)[:200]}"] += 1
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="an apiserver's URL (default: start etcd and an apiserver here)")
    parser.add_argument("--budget", type=float, default=600, help="seconds in all")
    parser.add_argument("--examples", type=int, default=40, help="cases per operation and mode")
    parser.add_argument("--spec", choices=("v2", "v3", "both"), default="both")
    parser.add_argument("--rbac", action="store_true",
                        help="start the apiserver with --authorization-mode=Node,RBAC and fuzz as a user "
                             "bound to the edit ClusterRole in the fuzz namespace only (401/403 paths too)")
    args = parser.parse_args()
    cluster = None
    server = args.server
    headers = admin = None
    namespace = None
    if server is None:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
        from clusters import Cluster
        apiserver_args = ()
        if args.rbac:
            tokens = os.path.join(tempfile.mkdtemp(prefix="fuzz-"), "tokens.csv")
            with open(tokens, "w") as f:
                f.write('fuzz-admin,admin,1,"system:masters"\nfuzz-user,fuzzer,2,"fuzzers"\n')
            apiserver_args = ("--authorization-mode", "Node,RBAC", "--token-auth-file", tokens)
            headers, admin = {"Authorization": "Bearer fuzz-user"}, {"Authorization": "Bearer fuzz-admin"}
        cluster = Cluster(apiserver_args=apiserver_args).start()
        server = cluster.server
        if args.rbac:
            namespace = f"fuzz-{os.urandom(3).hex()}"
            for path, body in (("/api/v1/namespaces", {"metadata": {"name": namespace}}),
                               (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
                                {"metadata": {"name": "fuzzer-edits"},
                                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                             "name": "edit"},
                                 "subjects": [{"kind": "User", "name": "fuzzer",
                                               "apiGroup": "rbac.authorization.k8s.io"}]})):
                requests.post(server + path, json=body, headers=admin, timeout=30).raise_for_status()
    try:
        started = time.monotonic()
        report = fuzz(server, args.budget, args.examples, args.spec, namespace=namespace, headers=headers,
                      admin_headers=admin)
        print(f"server: {server}  spec: {args.spec}{'  as fuzzer (RBAC)' if args.rbac else ''}  "
              f"took {time.monotonic() - started:.0f}s")
        print("\n".join(report.lines()))
        alive = requests.get(server + "/readyz", headers=admin, timeout=10).status_code
        print(f"apiserver /readyz after the run: {alive}")
    finally:
        if cluster is not None:
            cluster.stop()
    sys.exit(1 if report.count_5xx or report.transport_errors else 0)


if __name__ == "__main__":
    tempfile.tempdir = tempfile.gettempdir()
    main()
