"""Paginated lists: `?limit=N` answers N items and a `continue` token for the rest.

kubectl asks for 500 items at a time (`--chunk-size`), and a client listing 100,000 pods
should not make the apiserver hold them all at once. Kubernetes' answer (API concepts,
"Retrieving large results sets in chunks"): every page after the first is read from
etcd *at the revision of the first page*, so the pages together are one consistent
snapshot even while objects change. The `continue` token carries that revision and
the key to start from; it is opaque to clients (base64 of a small JSON document,
as kube-apiserver writes it).

When etcd has compacted the first page's revision away the snapshot is gone: the
answer is 410 Expired, with a token in its metadata that continues at the current
revision instead (an "inconsistent continue", resourceVersion -1), as Kubernetes does.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from . import errors

TOKEN_VERSION = "meta.k8s.io/v1"
MAX_PAGE = 10000          # the most keys read from etcd in one call while filtering
TOO_OLD = ("The provided continue parameter is too old to display a consistent list result. "
           "You can start a new list without the continue parameter, or use the continue token in this "
           "response to retrieve the remainder of the results. Continuing with the provided token results "
           "in an inconsistent list - objects that were created, modified, or deleted between the time the "
           "first chunk was returned and now may show up in the list.")


@dataclass
class Continue:
    """Where the next page starts: a key (relative to the list's prefix) at a revision."""
    start: str
    revision: int             # 0: at the current revision (the first page, or inconsistent)


def encode(start: str, revision: int) -> str:
    doc = json.dumps({"v": TOKEN_VERSION, "rv": revision, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode(token: str) -> Continue:
    """The token a client sent back; 400 BadRequest when it is not one we wrote."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise errors.bad_request(f"continue key is not valid: {err}") from None
    if not isinstance(doc, dict) or doc.get("v") != TOKEN_VERSION:
        raise errors.bad_request(f"continue key is not valid: server does not recognize this encoded key "
                                 f"version {doc.get('v') if isinstance(doc, dict) else None!r}")
    rv, start = doc.get("rv"), doc.get("start")
    if not isinstance(rv, int) or not isinstance(start, str) or not start:
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion or key")
    # The key must stay inside the list's prefix: no '..' climbing out of it.
    if start.startswith("/") or ".." in start.split("/"):
        raise errors.bad_request("continue key is not valid: the start key may not escape its prefix")
    return Continue(start, 0 if rv == -1 else rv)


def parse_limit(value: str | None) -> int:
    """`?limit=`: a positive count asks for pages; absent, 0 or negative means everything."""
    if value in (None, ""):
        return 0
    try:
        limit = int(value)
    except ValueError:
        raise errors.bad_request(f"limit: Invalid value: {value!r}: must be an integer") from None
    if not -2 ** 63 <= limit < 2 ** 63:      # ListOptions.Limit is an int64 (etcd's too: a 500 before)
        raise errors.bad_request(f'limit: Invalid value: {value!r}: strconv.ParseInt: parsing "{value}": '
                                 "value out of range")
    return max(limit, 0)


def paginate(store, prefix: str, limit: int, token: str | None, keep) -> tuple[list[dict], int, dict]:
    """Up to `limit` objects under `prefix` that `keep(obj)` accepts, from `token` on.

    Returns (items, revision, list metadata extras: continue, remainingItemCount).
    Keys are read in pages from etcd, all at one revision; a page that filters to fewer
    than `limit` is followed by a bigger one (doubling, as the etcd3 store does), so a
    selective label selector does not cost one etcd call per match.
    """
    from ..storage.store import RevisionCompacted
    start, revision, extras = prefix, 0, {}
    if token:
        cont = decode(token)
        start, revision = prefix + cont.start, cont.revision
    items: list[dict] = []
    page_size = limit
    filtering = keep is not None
    while True:
        try:
            page, read_at, more, remaining = store.list_page(prefix, start, page_size, revision)
        except RevisionCompacted:
            err = errors.expired(TOO_OLD)
            err.list_metadata = {"continue": encode(start[len(prefix):], -1)}
            raise err from None
        revision = revision or read_at
        for i, (key, obj) in enumerate(page):
            if filtering and not keep(obj):
                continue
            items.append(obj)
            if len(items) == limit:
                left_in_page = len(page) - i - 1
                if more or left_in_page:
                    extras["continue"] = encode(key[len(prefix):] + "\x00", revision)
                    if not filtering:
                        extras["remainingItemCount"] = remaining + left_in_page
                return items, revision, extras
        if not more or not page:
            return items, revision, extras
        start = page[-1][0] + "\x00"
        page_size = min(page_size * 2, MAX_PAGE)
