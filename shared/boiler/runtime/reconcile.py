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
from functools import partial
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..errors import InvalidDocument
from ..views import ViewModel
from . import log, store
from .aggregate import AggregateBuilder, AggregateState, WritePlan
from .attempt import Attempt
from .retry import committed

WRITE_BUDGET = 450
BYTE_BUDGET = 4_000_000


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

    def rebuild(attempt: Attempt) -> tuple[WritePlan, list[str], tuple[int, int, int], bool] | str:
        ref = builder.record_ref(key)
        (record,) = attempt.get_all([ref])
        stored = record.to_dict() if record.exists else None
        # Sources from scratch, not from the record; the record's version guards the commit.
        state = AggregateState(key, stored=stored, snapshot=record if record.exists else None)
        builder._fill(attempt, [state])
        try:
            if state.invalid is not None:
                raise state.invalid
            views = builder.compute(state)
        except InvalidDocument as error:
            return str(error)  # leave this aggregate's views as they are, like the pipeline
        plan = builder.plan(state, views)  # state.views is empty: every view is an operation
        known = set((stored or {}).get("views", {})) | set((stored or {}).get("unsynced", []))
        candidates = sorted(found | set(views) | known)
        actual = {
            snap.reference.path: snap.to_dict()
            for snap in attempt.get_all(client.document(path) for path in candidates)
            if snap.exists
        }
        stale = [path for path, v in views.items() if actual.get(path) != v.to_firestore()]
        orphans = [path for path in actual if path not in views]
        plan.operations = sorted(stale) + sorted(orphans)
        chunk, rest = plan.take(WRITE_BUDGET, BYTE_BUDGET)
        before = (stored or {}).get("version")
        writes = attempt.writes
        builder.write(attempt, plan, chunk, rest)
        record_written = attempt.writes - writes > len(chunk)
        if plan.operations and not record_written and record.exists:
            # The record is right but views are not: still guard the repair by its version.
            attempt.guarded_update(ref, record, {"updatedAt": firestore.SERVER_TIMESTAMP})
        refreshed = plan.version not in ("", before) or (
            record.exists and builder._root_model(state) is None
        )
        return plan, rest, (len(views), len(stale), len(orphans)), refreshed

    result = committed(client, rebuild, name=f"reconcile {builder.spec.name}/{key}")
    if isinstance(result, str):
        report.invalid.append(result)
        return
    plan, rest, (checked, stale, orphans), refreshed = result
    report.views_checked += checked
    report.stale += stale
    report.orphans += orphans
    report.records_refreshed += int(refreshed)
    while rest:
        whole = WritePlan(plan.state, plan.views, plan.digests, plan.sizes, rest)
        chunk, remaining = whole.take(WRITE_BUDGET, BYTE_BUDGET)
        done = committed(
            client,
            partial(builder.write_chunk, plan=plan, chunk=chunk, rest=remaining),
            name=f"reconcile {builder.spec.name}/{key}",
        )
        if done is None:
            return  # a live trigger rebuilt this aggregate meanwhile; it owns the rest
        rest = remaining
