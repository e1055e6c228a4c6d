"""``firestore.indexes.json`` generated from the declarations.

>>> generate_indexes(compile_app(app))["fieldOverrides"][0]["fieldPath"]
'sources'

- The ledger expires by TTL (``_boilerLedger.expireAt``), unindexed: a monotonically
  increasing indexed timestamp would be a write hotspot and nothing queries it. So does the
  command order bookkeeping (``_boilerCommandOrder.expireAt``) when a command has ``orders_on``.
- The aggregate records' cached ``sources`` and ``views`` maps are never queried; indexing
  them would cost a write per field and could hit the per-document index-entry limit.
- Queries boiler runs (``deps`` array-contains ordered by id) and the list queries the rules
  allow (one equality on a uid field) are served by automatic single-field indexes.
"""

from __future__ import annotations

from typing import Any

from .compiler import Build
from .runtime import bookkeeping


def generate_indexes(build: Build) -> dict[str, Any]:
    """The complete ``firestore.indexes.json`` content for ``build``; a pure function."""
    overrides: list[dict[str, Any]] = []
    if build.triggers:
        overrides += [
            {"collectionGroup": bookkeeping.RECORDS, "fieldPath": name, "indexes": []}
            for name in bookkeeping.UNINDEXED_RECORD_FIELDS
        ]
    expiring = [bookkeeping.LEDGER]
    if any(spec.command.spec().orders_on for spec in build.commands):
        expiring.append(bookkeeping.ORDER)
    overrides += [
        {"collectionGroup": group, "fieldPath": bookkeeping.TTL_FIELD, "ttl": True, "indexes": []}
        for group in expiring
    ]
    return {"indexes": [], "fieldOverrides": overrides}
