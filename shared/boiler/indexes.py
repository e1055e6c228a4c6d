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
- Aggregate views (runtime/tallies.py): a ``Top`` refills from its membership entries
  (``owner ==``, ordered by ``k.<name>``): one composite index per name. Their states and
  entries' copied fields are never queried. A rebuild finds the members of a subcollection
  model with a collection-group query on the relation field: a collection-group index.
"""

from __future__ import annotations

from typing import Any

from .aggregates import TopSpec
from .compiler import Build
from .runtime import bookkeeping, tallies
from .runtime.tallies import is_tally_view


def generate_indexes(build: Build) -> dict[str, Any]:
    """The complete ``firestore.indexes.json`` content for ``build``; a pure function."""
    overrides: list[dict[str, Any]] = []
    if build.triggers:
        overrides += [
            {"collectionGroup": bookkeeping.RECORDS, "fieldPath": name, "indexes": []}
            for name in bookkeeping.UNINDEXED_RECORD_FIELDS
        ]
    indexes, more = _tally_indexes(build)
    overrides += more
    expiring = [bookkeeping.LEDGER]
    if any(spec.command.spec().orders_on for spec in build.commands):
        expiring.append(bookkeeping.ORDER)
    overrides += [
        {"collectionGroup": group, "fieldPath": bookkeeping.TTL_FIELD, "ttl": True, "indexes": []}
        for group in expiring
    ]
    return {"indexes": indexes, "fieldOverrides": overrides}


def _tally_indexes(build: Build) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    views = [view for view in build.app.views if is_tally_view(view)]
    if not views:
        return [], []
    aggregates = [a for view in views for a in view.spec().sources.__aggregates__.values()]
    ranked = sorted({a.name for a in aggregates if isinstance(a, TopSpec)})
    indexes = [
        {
            "collectionGroup": tallies.MEMBERS,
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "owner", "order": "ASCENDING"},
                {"fieldPath": f"k.{name}", "order": "ASCENDING"},
            ],
        }
        for name in ranked
    ]
    overrides: list[dict[str, Any]] = [
        {"collectionGroup": group, "fieldPath": name, "indexes": []}
        for group, name in [
            (tallies.MEMBERS, "c"),
            (tallies.MEMBERS, "f"),
            (tallies.TALLIES, "t"),
            (tallies.TALLIES, "root"),
            (tallies.TALLIES, "views"),
            (tallies.TALLIES, "applied"),
        ]
    ]
    nested = {
        (
            a.query.template.segments[-2],
            a.query.model.model_fields[field].alias or field,
            a.query.relation.op,
        )
        for a in aggregates
        if a.query.relation is not None
        and len(a.query.template.segments) > 2
        and (field := a.query.relation.field)
    }
    for group, field_path, op in sorted(nested):
        scope: dict[str, str] = {"queryScope": "COLLECTION_GROUP"}
        order: dict[str, str] = (
            {"arrayConfig": "CONTAINS"} if op == "array-contains" else {"order": "ASCENDING"}
        )
        overrides.append(
            {
                "collectionGroup": group,
                "fieldPath": field_path,
                "indexes": [
                    {"order": "ASCENDING", "queryScope": "COLLECTION"},
                    {"order": "DESCENDING", "queryScope": "COLLECTION"},
                    {"arrayConfig": "CONTAINS", "queryScope": "COLLECTION"},
                    {**order, **scope},
                ],
            }
        )
    return indexes, overrides
