"""Migrations: bring every stored view of a view model to the shape its declaration gives now.

A view model numbers the shape of its documents with ``version=`` (views.py, default 1). After
a change to its fields or its ``build``, raise the version, deploy (the triggers then write the
new shape), and migrate what is stored::

    report = migrate(Agenda, client)   # python -m boiler migrate --app meeting_room
    report.status                      # "migrated", "incomplete" (failures remain) or "already"
    report.aggregates, report.total    # keys done, of
    report.rewritten, report.deleted   # view documents rewritten, deleted
    report.failures                    # [{key, error}]: not rebuilt; a rerun retries them

A migration is a resumable walk (runtime/key_walk.py): reconcile over every key of the view
in sorted order, ``batch`` keys per call: each key is rebuilt from the domain documents with
the declaration as it is now, its stored views compared and the drifted ones rewritten, so it
is state-based and safe beside live triggers, and a key already in the new shape costs reads
only. After each batch one commit, guarded by the progress document's update time, records:

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.cloud import firestore

from ..errors import BoilerError
from ..views import ViewModel
from . import bookkeeping, log
from .key_walk import DEFAULT_BATCH, FAILURES, MAX_BATCH, KeyWalk, WalkReport

if TYPE_CHECKING:
    from ..compiler import Build

__all__ = ["DEFAULT_BATCH", "MAX_BATCH", "MigrationReport", "in_dependency_order", "migrate"]

MIGRATED, INCOMPLETE, ALREADY = "migrated", "incomplete", "already"


@dataclass
class MigrationReport(WalkReport):
    """One view's migration to ``version``: counts over every run of it."""

    version: int = 0
    previous: int | None = None  # the version its last migration recorded (None: never)
    status: str = INCOMPLETE

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
            **self.counts(),
            "failures": self.failures,
            "processed": self.processed,
            "cursor": self.cursor,
        }


def migration_ref(client: firestore.Client, view: str) -> firestore.DocumentReference:
    return client.collection(bookkeeping.MIGRATIONS).document(view)


def failures_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return migration_ref(client, view).collection(FAILURES)


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
    progress: Callable[[WalkReport], None] | None = None,
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
    report = MigrationReport(spec.name, version=spec.version, previous=previous)

    def concurrent() -> BoilerError:
        return BoilerError(
            f"migrate {spec.name}: its progress ({ref.path}) changed since this run read it: "
            "another migration of this view is running. Run one at a time; running it again "
            "resumes where the other left off",
            code="migration-concurrent",
        )

    identity = {"version": spec.version}
    if stored is not None and previous == spec.version:
        report.restore(stored)
        if stored.get("finishedAt") is not None:
            report.status, report.total = ALREADY, report.aggregates
            log.info("boiler.migrated", **report.as_dict())
            return report
        walk = KeyWalk(client, ref, report, identity, concurrent, snapshot.update_time)
        outstanding = walk.outstanding()
    else:
        walk = KeyWalk(client, ref, report, identity, concurrent)
        walk.start(snapshot, {"view": spec.name})
        outstanding = {}
    if walk.run(view, outstanding, batch, progress):
        report.status = MIGRATED
    log.info("boiler.migrated", **report.as_dict())
    return report
