"""Reconcile: bring every stored view of a view model back to a from-scratch rebuild.

The safety net behind the pipeline: for every aggregate key (each root document, each
record, each existing view document) it rebuilds the aggregate from the domain documents
alone, in one optimistic attempt (runtime/attempt.py), compares with the view documents
actually stored, and repairs the drift: rewrites wrong views, deletes orphans, refreshes
the record. Nothing is written when nothing changed, so running it twice reports zero the
second time::

    report = reconcile(MeetingSession, client)
    report.stale, report.orphans   # views rewritten, views deleted
    report.failed, report.invalid  # aggregates left as they were, with the reasons

Each aggregate stands alone: one that raises (a ``build`` bug, an id that is no document id)
is logged and listed in ``report.failures``, and the next one is repaired all the same.

Every commit is guarded, like the pipeline's: by the record's version (or its absence) when
the commit writes or deletes the record, else (root and record both gone) each orphan delete
by the view's own update time. A rebuild racing reconcile makes its commit fail; the retry
reads again, so reconcile never deletes or overwrites views it did not see.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..errors import BoilerError, InvalidDocument
from ..views import ViewModel
from . import bookkeeping, chunks, log
from .aggregate import AggregateBuilder, AggregateState, WritePlan
from .attempt import Attempt
from .retry import committed


@dataclass
class ReconcileReport:
    """Counts of one reconcile run of one view model."""

    view: str
    aggregates: int = 0
    views_checked: int = 0
    stale: int = 0  # stored view missing or different: rewritten
    orphans: int = 0  # stored view no rebuild produces: deleted
    records_refreshed: int = 0
    invalid: list[str] = field(default_factory=list)  # a source failed validation: left as is
    failures: list[dict[str, str]] = field(default_factory=list)  # {key, error}: raised

    @property
    def repaired(self) -> int:
        return self.stale + self.orphans

    @property
    def failed(self) -> int:
        """Aggregates whose rebuild raised; their views are as they were (or partly repaired)."""
        return len(self.failures)

    def add(self, other: ReconcileReport) -> None:
        """Count ``other`` (a run over more keys of the same view) in this report."""
        self.aggregates += other.aggregates
        self.views_checked += other.views_checked
        self.stale += other.stale
        self.orphans += other.orphans
        self.records_refreshed += other.records_refreshed
        self.invalid += other.invalid
        self.failures += other.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "aggregates": self.aggregates,
            "viewsChecked": self.views_checked,
            "stale": self.stale,
            "orphans": self.orphans,
            "recordsRefreshed": self.records_refreshed,
            "invalid": self.invalid,
            "failed": self.failed,
            "failures": self.failures,
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
    view: type[ViewModel], client: firestore.Client, views: Mapping[str, set[str]]
) -> list[str]:
    """Keys of every root document, every record and every stored view, sorted."""
    spec = view.spec()
    root = spec.sources.root().template
    keys = set(views)
    keys.update(ref.id for ref in client.collection(root.collection).list_documents())
    keys.update(ref.id for ref in bookkeeping.aggregates_of(client, spec.name).list_documents())
    return sorted(keys)


def reconcile(
    view: type[ViewModel],
    client: firestore.Client,
    keys: Iterable[str] | None = None,
    *,
    stored: Mapping[str, set[str]] | None = None,
    before_commit: Callable[[str], None] | None = None,
) -> ReconcileReport:
    """Repair every aggregate of ``view`` (or only ``keys``); see the module docstring.

    ``stored`` (``existing_views``' answer, listed once by a caller walking many batches of
    keys) spares listing every stored view of ``view`` again for each batch. Each attempt
    reads its candidates again, so a view created or deleted since the listing is seen.

    ``before_commit(key)`` (tests only) runs after each attempt's writes are staged, just
    before they are sent: a test rebuilds the aggregate there to race the commit.
    """
    from .tallies import is_tally_view

    if is_tally_view(view):  # an aggregate view: runtime/tally_rebuild.py (imports this module)
        from .tally_rebuild import rebuild_tallies

        return rebuild_tallies(view, client, keys, stored=stored)
    builder = AggregateBuilder(view, client, origin={"function": "reconcile"})
    report = ReconcileReport(view.spec().name)
    stored_views = existing_views(view, client) if stored is None else stored
    for key in keys if keys is not None else aggregate_keys(view, client, stored_views):
        report.aggregates += 1
        try:
            _reconcile_one(builder, key, stored_views.get(key, set()), report, before_commit)
        except Exception as error:  # one aggregate that cannot be rebuilt must not stop the rest
            _failed(report, key, error)
    log.info("boiler.reconciled", **report.as_dict())
    return report


def _failed(report: ReconcileReport, key: str, error: Exception) -> None:
    message = f"{type(error).__name__}: {error}"
    report.failures.append({"key": key, "error": message})
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    log.error("boiler.reconcile_failed", view=report.view, key=key, error=message, where=where)


def _reconcile_one(
    builder: AggregateBuilder,
    key: str,
    found: set[str],
    report: ReconcileReport,
    before_commit: Callable[[str], None] | None = None,
) -> None:
    client = builder.client

    def rebuild(
        attempt: Attempt,
    ) -> tuple[WritePlan, list[str], tuple[int, int, int], bool] | BoilerError:
        ref = builder.record_ref(key)
        (record,) = attempt.get_all([ref])
        # Sources from scratch, not from the record; the record's version guards the commit.
        state = AggregateState.from_snapshot(key, record)
        state.sources, state.collections = {}, set()
        stored = state.record
        builder.fill(attempt, [state])
        plan = builder.rebuild(state)
        if plan.problem is not None:
            # Held back like the pipeline does: the views stay, the record follows the
            # sources (so fixing the one at fault finds it) and the problem is recorded.
            builder.write(attempt, plan)
            return plan.problem
        views = plan.views
        known = set(stored.views) | set(stored.unsynced)
        candidates = sorted(found | set(views) | known)
        seen = {
            snap.reference.path: snap
            for snap in attempt.get_all(client.document(path) for path in candidates)
            if snap.exists
        }
        actual = {path: snap.to_dict() for path, snap in seen.items()}
        stale = [path for path, v in views.items() if actual.get(path) != v.to_firestore()]
        orphans = [path for path in actual if path not in views]
        plan.operations = sorted(stale) + sorted(orphans)
        chunk, rest = chunks.first_chunk(plan)
        before = stored.version
        root_gone = not builder.root_exists(state)
        if not record.exists and root_gone and not rest:
            # No record is read or written to guard this commit: each delete guards itself.
            for path in chunk:  # the root is gone, so every operation is an orphan delete
                attempt.guarded_delete(client.document(path), seen[path])
        else:
            builder.write(attempt, plan, chunk, rest)  # the record: guarded update/create/delete
            # A new version means a record write; a root gone without a tombstone, its delete.
            guarded = plan.version != before or (record.exists and root_gone and not rest)
            if plan.operations and record.exists and not guarded:
                # The record is right but views are not: still guard the repair by its version.
                attempt.guarded_update(ref, record, bookkeeping.touched())
        refreshed = plan.version not in ("", before) or (record.exists and root_gone)
        if before_commit is not None:
            before_commit(key)
        return plan, rest, (len(views), len(stale), len(orphans)), refreshed

    result = committed(client, rebuild, name=f"reconcile {builder.spec.name}/{key}")
    if isinstance(result, InvalidDocument):
        report.invalid.append(str(result))
        return
    if isinstance(result, BoilerError):
        raise result  # counted in ``failed`` by the caller
    plan, rest, (checked, stale, orphans), refreshed = result
    report.views_checked += checked
    report.stale += stale
    report.orphans += orphans
    report.records_refreshed += int(refreshed)
    name = f"reconcile {builder.spec.name}/{key}"
    for done in chunks.write_rest(
        builder,
        plan,
        rest,
        commit=lambda body: committed(client, body, name=name),
        staged=None if before_commit is None else lambda: before_commit(key),
    ):
        if done is None:
            return  # a live trigger rebuilt this aggregate meanwhile; it owns the rest
