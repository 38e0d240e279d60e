"""The coordination.k8s.io group's kind: Lease (node heartbeats and leader election)."""
from __future__ import annotations

from .. import validation
from .columns import AGE, NAME, age_of, col
from .kind import Kind


def lease_row(lease):
    return [lease["metadata"]["name"], (lease.get("spec") or {}).get("holderIdentity") or "<none>", age_of(lease)]


LEASE = Kind(
    "coordination.k8s.io", "v1", "Lease", "leases", has_status=False, counts_generation=False,
    validate=validation.validate_lease,
    columns=(NAME, col("Holder"), AGE), row=lease_row,
    proto="k8s.io.api.coordination.v1.Lease")

KINDS = (LEASE,)
