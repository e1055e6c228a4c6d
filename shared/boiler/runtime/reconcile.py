"""Reconcile: bring every stored view of a view model back to a from-scratch rebuild.

The safety net behind the pipeline: for every aggregate key (each root document, each
record, each existing view document) it rebuilds the aggregate from the domain documents
alone, in a transaction, compares with the view documents actually stored, and repairs the
drift: rewrites wrong views, deletes orphans, refreshes the record. Nothing is written when
nothing changed, so running it twice reports zero the second time::

    report = reconcile(MeetingSession, client)
    report.stale, report.orphans   # views rewritten, views deleted
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..errors import InvalidDocument
from ..views import ViewModel
from . import log, store
from .aggregate import AggregateBuilder, AggregateState, WritePlan

WRITE_BUDGET = 450


@dataclass
class ReconcileReport:
    """Counts of one reconcile run of one view model."""

    view: str
    aggregates: int = 0
    views_checked: int = 0
    stale: int = 0  # stored view missing or different: rewritten
    orphans: int = 0  # stored view no rebuild produces: deleted
    records_refreshed: int = 0
    invalid: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> int:
        return self.stale + self.orphans

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "aggregates": self.aggregates,
            "viewsChecked": self.views_checked,
            "stale": self.stale,
            "orphans": self.orphans,
            "recordsRefreshed": self.records_refreshed,
            "invalid": self.invalid,
        }


def existing_views(view: type[ViewModel], client: firestore.Client) -> dict[str, set[str]]:
    """Every stored view document of ``view``, grouped by aggregate key."""
    spec = view.spec()
    found: dict[str, set[str]] = {}
    collection_id = spec.template.segments[-2]
    for ref in _documents(client.collection_group(collection_id)):
        values = spec.template.match(ref.path)
        if values is not None:
            found.setdefault(values[spec.key_wildcard], set()).add(ref.path)
    return found


def _documents(query: Any) -> Iterator[Any]:
    for snapshot in query.select([]).order_by(FieldPath.document_id()).stream():
        yield snapshot.reference


def aggregate_keys(
    view: type[ViewModel], client: firestore.Client, views: dict[str, set[str]]
) -> list[str]:
    """Keys of every root document, every record and every stored view, sorted."""
    spec = view.spec()
    root = spec.sources.__root__.template
    keys = set(views)
    keys.update(ref.id for ref in client.collection(root.collection).list_documents())
    keys.update(ref.id for ref in store.aggregates_of(client, spec.name).list_documents())
    return sorted(keys)


def reconcile(
    view: type[ViewModel], client: firestore.Client, keys: Iterable[str] | None = None
) -> ReconcileReport:
    """Repair every aggregate of ``view`` (or only ``keys``); see the module docstring."""
    builder = AggregateBuilder(view, client)
    report = ReconcileReport(view.spec().name)
    stored_views = existing_views(view, client)
    for key in keys if keys is not None else aggregate_keys(view, client, stored_views):
        report.aggregates += 1
        _reconcile_one(builder, key, stored_views.get(key, set()), report)
    log.info("boiler.reconciled", **report.as_dict())
    return report


def _reconcile_one(
    builder: AggregateBuilder, key: str, found: set[str], report: ReconcileReport
) -> None:
    client = builder.client

    @firestore.transactional
    def rebuild(
        transaction: firestore.Transaction,
    ) -> tuple[WritePlan, list[str], tuple[int, int, int], bool] | str:
        record = builder.record_ref(key).get(transaction=transaction)
        stored = record.to_dict() if record.exists else None
        state = AggregateState(key, stored=stored)  # sources from scratch, not from the record
        builder._fill(transaction, [state])
        try:
            if state.invalid is not None:
                raise state.invalid
            views = builder.compute(state)
        except InvalidDocument as error:
            return str(error)  # leave this aggregate's views as they are, like the pipeline
        plan = builder.plan(state, views)  # state.views is empty: every view is an operation
        candidates = sorted(
            found
            | set(views)
            | set((stored or {}).get("views", {}))
            | set((stored or {}).get("unsynced", []))
        )
        actual = {
            snap.reference.path: snap.to_dict()
            for snap in client.get_all(
                [client.document(path) for path in candidates], transaction=transaction
            )
            if snap.exists
        }
        stale = [path for path, v in views.items() if actual.get(path) != v.to_firestore()]
        orphans = [path for path in actual if path not in views]
        plan.operations = sorted(stale) + sorted(orphans)
        chunk, rest = plan.take(WRITE_BUDGET, 4_000_000)
        before = (stored or {}).get("version")
        builder.write(transaction, plan, chunk, rest)
        refreshed = plan.version not in ("", before) or (
            stored is not None and builder._root_model(state) is None
        )
        return plan, rest, (len(views), len(stale), len(orphans)), refreshed

    result = rebuild(client.transaction())
    if isinstance(result, str):
        report.invalid.append(result)
        return
    plan, rest, (checked, stale, orphans), refreshed = result
    report.views_checked += checked
    report.stale += stale
    report.orphans += orphans
    report.records_refreshed += int(refreshed)
    while rest:
        chunk, remaining = WritePlan(plan.state, plan.views, plan.digests, plan.sizes, rest).take(
            WRITE_BUDGET, 4_000_000
        )

        @firestore.transactional
        def follow_up(
            transaction: firestore.Transaction,
            chunk: list[str] = chunk,
            remaining: list[str] = remaining,
        ) -> Any:
            return builder.write_chunk(transaction, plan, chunk, remaining)

        if follow_up(client.transaction()) is None:
            return  # a live trigger rebuilt this aggregate meanwhile; it owns the rest
        rest = remaining
