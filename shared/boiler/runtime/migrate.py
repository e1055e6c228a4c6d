"""Migrations: bring every stored view of a view model to the shape its declaration gives now.

A view model numbers the shape of its documents with ``version=`` (views.py, default 1). After
a change to its fields or its ``build``, raise the version, deploy (the triggers then write the
new shape), and migrate what is stored::

    report = migrate(Agenda, client)   # python -m boiler migrate --app meeting_room
    report.status                      # "migrated", "incomplete" (failures remain) or "already"
    report.aggregates, report.total    # keys done, of
    report.rewritten, report.deleted   # view documents rewritten, deleted
    report.failures                    # [{key, error}]: not rebuilt; a rerun retries them

A migration is reconcile (runtime/reconcile.py) over every key of the view in sorted order,
``batch`` keys per call: each key is rebuilt from the domain documents with the declaration
as it is now, its stored views compared and the drifted ones rewritten, so it is state-based
and safe beside live triggers, and a key already in the new shape costs reads only. After
each batch one commit, guarded by the progress document's update time, records:

- ``_boilerMigrations/{View}``: ``view``, ``version``, ``cursor`` (the last key done),
  ``counts`` (``aggregates``, ``rewritten``, ``deleted``, ``heldBack``, ``failed``),
  ``startedAt``, ``finishedAt`` (``None`` until every key is done and none failed);
- ``_boilerMigrations/{View}/_boilerFailures/{key}``: each key reconcile could not rebuild
  (``key``, ``version``, ``error``), deleted once a retry rebuilds it.

Run again after an interruption, it resumes after the cursor; with failures left, it retries
them first and stays unfinished until none remain; finished at the declared version, it
reports ``already`` and does nothing; a different declared version starts over. A view never
migrated is migrated once whatever its version: nothing says what shape its views have.

Aggregates reconcile holds back (an invalid source document; for an aggregate view also a
``build()`` that raises) keep their views as they were and are counted in ``heldBack``, not
retried: reconcile does not say which keys they are. ``_boilerErrors`` names the cause; once
it is fixed, the next trigger on the aggregate, or ``boiler reconcile``, writes the new shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..errors import BoilerError
from ..views import ViewModel
from . import bookkeeping, log
from .reconcile import ReconcileReport, aggregate_keys, existing_views, reconcile

if TYPE_CHECKING:
    from ..compiler import Build

FAILURES = "_boilerFailures"  # _boilerMigrations/{View}/_boilerFailures/{key}
DEFAULT_BATCH = 200  # keys per reconcile call (each call lists the view's stored documents)
MAX_BATCH = 499  # one commit: the progress document and a failure entry per key of the batch
MIGRATED, INCOMPLETE, ALREADY = "migrated", "incomplete", "already"


@dataclass
class MigrationReport:
    """One view's migration to ``version``: counts over every run of it (``processed``: this
    run's keys, retries included)."""

    view: str
    version: int
    previous: int | None  # the version its last migration recorded (None: never migrated)
    status: str = INCOMPLETE
    total: int = 0  # keys: done before this run + listed after the cursor
    aggregates: int = 0  # keys done (a failed key is done, and retried by a later run)
    rewritten: int = 0  # view documents rewritten (missing or different)
    deleted: int = 0  # view documents deleted (no rebuild produces them)
    held_back: int = 0  # aggregates reconcile held back, views as they were: see the docstring
    failures: list[dict[str, str]] = field(default_factory=list)  # {key, error}: outstanding
    processed: int = 0
    cursor: str | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        if self.status == ALREADY:
            return f"{self.view}: already at version {self.version}"
        since = "never migrated" if self.previous is None else f"was {self.previous}"
        return (
            f"{self.view}: version {self.version} ({since}): {self.status}, "
            f"{self.aggregates}/{self.total} aggregates, {self.rewritten} views rewritten, "
            f"{self.deleted} deleted, {self.held_back} held back, {self.failed} failed"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "version": self.version,
            "previous": self.previous,
            "status": self.status,
            "total": self.total,
            "aggregates": self.aggregates,
            "rewritten": self.rewritten,
            "deleted": self.deleted,
            "heldBack": self.held_back,
            "failed": self.failed,
            "failures": self.failures,
            "processed": self.processed,
            "cursor": self.cursor,
        }


def migration_ref(client: firestore.Client, view: str) -> firestore.DocumentReference:
    return client.collection(bookkeeping.MIGRATIONS).document(view)


def failures_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return migration_ref(client, view).collection(FAILURES)


def view_keys(view: type[ViewModel], client: firestore.Client) -> list[str]:
    """Every key reconcile would visit for ``view``, sorted."""
    from .tallies import TallyBuilder, is_tally_view

    stored = existing_views(view, client)
    if is_tally_view(view):
        from .tally_rebuild import tally_keys

        return tally_keys(TallyBuilder(view, client, origin={"function": "migrate"}), stored)
    return aggregate_keys(view, client, stored)


def in_dependency_order(build: Build) -> list[type[ViewModel]]:
    """The app's views, each after the views it aggregates: an aggregate view migrated after
    its members are rebuilds from members in the new shape."""
    reads: dict[type[ViewModel], list[type[ViewModel]]] = {view: [] for view in build.app.views}
    for trigger in build.triggers:
        model = trigger.source.model
        if isinstance(model, type) and issubclass(model, ViewModel) and model in reads:
            reads[trigger.view].append(model)
    ordered: list[type[ViewModel]] = []

    def visit(view: type[ViewModel]) -> None:  # compile_app rejected cycles
        if view not in ordered:
            for source in reads[view]:
                visit(source)
            ordered.append(view)

    for view in build.app.views:
        visit(view)
    return ordered


def migrate(
    view: type[ViewModel],
    client: firestore.Client,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[MigrationReport], None] | None = None,
) -> MigrationReport:
    """Bring every aggregate of ``view`` to its declared version; see the module docstring.

    ``progress(report)`` runs after each batch is recorded (a test may raise there to
    interrupt the migration: the next run resumes after the batch).
    """
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch must be between 1 and {MAX_BATCH}, got {batch}")
    spec = view.spec()
    ref = migration_ref(client, spec.name)
    snapshot = ref.get()
    stored = snapshot.to_dict() if snapshot.exists else None
    previous = None if stored is None else int(stored.get("version", 0))
    report = MigrationReport(spec.name, spec.version, previous)
    if stored is not None and previous == spec.version:
        _restore(report, stored)
        if stored.get("finishedAt") is not None:
            report.status, report.total = ALREADY, report.aggregates
            log.info("boiler.migrated", **report.as_dict())
            return report
        progress_doc = _Progress(client, ref, snapshot.update_time, report)
        outstanding = progress_doc.outstanding()
    else:
        progress_doc = _Progress(client, ref, None, report)
        progress_doc.start(snapshot)
        outstanding = {}
    report.failures, report.total = _listed(outstanding), report.aggregates
    for keys in _batches(sorted(outstanding), batch):  # failures of an earlier run first
        progress_doc.record(keys, reconcile(view, client, keys=keys), outstanding, retry=True)
        if progress is not None:
            progress(report)
    remaining = [
        key for key in view_keys(view, client) if report.cursor is None or key > report.cursor
    ]
    report.total = report.aggregates + len(remaining)
    for keys in _batches(remaining, batch):
        progress_doc.record(keys, reconcile(view, client, keys=keys), outstanding, retry=False)
        if progress is not None:
            progress(report)
    if not outstanding:
        progress_doc.finish()
        report.status = MIGRATED
    log.info("boiler.migrated", **report.as_dict())
    return report


def _batches(keys: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


def _listed(outstanding: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "error": error} for key, error in sorted(outstanding.items())]


def _restore(report: MigrationReport, stored: dict[str, Any]) -> None:
    counts = stored.get("counts") or {}
    report.cursor = stored.get("cursor")
    report.aggregates = int(counts.get("aggregates", 0))
    report.rewritten = int(counts.get("rewritten", 0))
    report.deleted = int(counts.get("deleted", 0))
    report.held_back = int(counts.get("heldBack", 0))


class _Progress:
    """The progress document of one migration, every write guarded by its last update time:
    two migrations of one view at once would miscount, so the second one stops."""

    def __init__(
        self,
        client: firestore.Client,
        ref: firestore.DocumentReference,
        update_time: Any,
        report: MigrationReport,
    ) -> None:
        self.client, self.ref, self.update_time, self.report = client, ref, update_time, report
        self.failures = ref.collection(FAILURES)

    def outstanding(self) -> dict[str, str]:
        """{key: error} of this version's failures; entries of other versions are dropped."""
        found: dict[str, str] = {}
        for snapshot in self.failures.stream():
            entry = snapshot.to_dict() or {}
            if entry.get("version") == self.report.version:
                found[snapshot.id] = str(entry.get("error", ""))
            else:  # left by a migration to another version that was started over
                snapshot.reference.delete()
        return found

    def start(self, snapshot: firestore.DocumentSnapshot) -> None:
        """A new migration: the old one's failures go, then the document says so."""
        for entry in self.failures.list_documents():
            entry.delete()
        document = self._state() | {
            "view": self.report.view,
            "version": self.report.version,
            "startedAt": firestore.SERVER_TIMESTAMP,
            "finishedAt": None,
        }
        batch = self.client.batch()
        if snapshot.exists:
            option = self.client.write_option(last_update_time=snapshot.update_time)
            batch.update(self.ref, document, option=option)
        else:
            batch.create(self.ref, document)
        self._commit(batch)

    def record(
        self, keys: list[str], done: ReconcileReport, outstanding: dict[str, str], retry: bool
    ) -> None:
        """One batch of keys reconciled: its counts, its failures and (first pass) the cursor,
        in one commit."""
        report = self.report
        failed = {failure["key"]: failure["error"] for failure in done.failures}
        batch = self.client.batch()
        for key in keys:
            if key in failed:
                entry = {"key": key, "version": report.version, "error": failed[key]}
                batch.set(self.failures.document(key), entry)
            elif key in outstanding:
                batch.delete(self.failures.document(key))
        for key in keys:
            if key in failed:
                outstanding[key] = failed[key]
            else:
                outstanding.pop(key, None)
        if not retry:
            report.aggregates += len(keys)
            report.cursor = keys[-1]
        report.processed += len(keys)
        report.rewritten += done.stale
        report.deleted += done.orphans
        report.held_back += len(done.invalid)
        report.failures = _listed(outstanding)
        option = self.client.write_option(last_update_time=self.update_time)
        batch.update(self.ref, self._state(), option=option)
        self._commit(batch)

    def finish(self) -> None:
        option = self.client.write_option(last_update_time=self.update_time)
        batch = self.client.batch()
        batch.update(self.ref, {"finishedAt": firestore.SERVER_TIMESTAMP}, option=option)
        self._commit(batch)

    def _state(self) -> dict[str, Any]:
        report = self.report
        return {
            "cursor": report.cursor,
            "counts": {
                "aggregates": report.aggregates,
                "rewritten": report.rewritten,
                "deleted": report.deleted,
                "heldBack": report.held_back,
                "failed": report.failed,
            },
            "updatedAt": firestore.SERVER_TIMESTAMP,
        }

    def _commit(self, batch: Any) -> None:
        try:
            results = batch.commit()
        except (gexc.FailedPrecondition, gexc.AlreadyExists) as error:
            raise BoilerError(
                f"migrate {self.report.view}: its progress ({self.ref.path}) changed since this "
                "run read it: another migration of this view is running. Run one at a time; "
                "running it again resumes where the other left off",
                code="migration-concurrent",
            ) from error
        # The progress document's write comes last in every batch.
        self.update_time = results[-1].update_time
