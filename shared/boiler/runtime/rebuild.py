"""Rebuild: backfill every stored view of a view model from the domain, resumably.

For changes that need no new ``version`` (a fixed ``build()``, a new view over existing data,
views deleted or damaged by hand) and for bulk repair. Where ``migrate`` runs once per
declared version, ``rebuild`` runs whenever it is asked::

    report = rebuild(MeetingCard, client)   # boiler rebuild --app meeting_room MeetingCard
    report.status                           # "rebuilt", or "incomplete": failures remain
    report.resumed                          # this run went on from an interrupted one
    report.aggregates, report.total         # keys done, of
    report.rewritten, report.deleted        # view documents rewritten, deleted

It is a resumable walk (runtime/key_walk.py) with its progress in ``_boilerRebuilds/{View}``
(``run``, ``mode``, ``cursor``, ``counts``, ``startedAt``, ``finishedAt``): run again after an
interruption, it retries the run's failures, then goes on after the cursor; once finished,
the next call starts a new run. ``restart=True`` abandons an unfinished run and starts over.
For more keys than one machine should walk, runtime/rebuild_distributed.py shards the same
work over task-queue instances.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from ..errors import BoilerError
from ..views import ViewModel
from . import bookkeeping, log
from .key_walk import DEFAULT_BATCH, MAX_BATCH, KeyWalk, WalkReport

REBUILT, INCOMPLETE = "rebuilt", "incomplete"
LOCAL, DISTRIBUTED = "local", "distributed"  # a run's mode: walked here, or sharded over tasks


@dataclass
class RebuildReport(WalkReport):
    """One view's rebuild run: counts over every call that worked on it."""

    run: str = ""
    status: str = INCOMPLETE
    resumed: bool = False

    def summary(self) -> str:
        return (
            f"{self.view}: {self.status} ({self.which_run()}), {self.done()}, "
            f"{self.rewritten} views rewritten, {self.deleted} deleted, "
            f"{self.held_back} held back, {self.failed} failed"
        )

    def which_run(self) -> str:
        return f"{'resumed' if self.resumed else 'new run'} {self.run}"

    def done(self) -> str:
        return f"{self.aggregates}/{self.total} aggregates"

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "run": self.run,
            "status": self.status,
            "resumed": self.resumed,
            "total": self.total,
            **self.counts(),
            "failures": self.failures,
            "processed": self.processed,
            "cursor": self.cursor,
        }


def rebuild_ref(client: firestore.Client, view: str) -> firestore.DocumentReference:
    return client.collection(bookkeeping.REBUILDS).document(view)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def concurrent_error(view: str, ref: firestore.DocumentReference) -> Callable[[], BoilerError]:
    def error() -> BoilerError:
        return BoilerError(
            f"rebuild {view}: its progress ({ref.path}) changed since this run read it: another "
            "rebuild of this view is running. Run one at a time; running it again resumes "
            "where the other left off",
            code="rebuild-concurrent",
        )

    return error


def unfinished(snapshot: firestore.DocumentSnapshot, mode: str) -> dict[str, Any] | None:
    """The stored run, if it is one of ``mode`` that has not finished."""
    stored = snapshot.to_dict() if snapshot.exists else None
    if stored and stored.get("finishedAt") is None and stored.get("mode") == mode:
        return stored
    return None


def rebuild(
    view: type[ViewModel],
    client: firestore.Client,
    *,
    batch: int = DEFAULT_BATCH,
    restart: bool = False,
    progress: Callable[[WalkReport], None] | None = None,
) -> RebuildReport:
    """Rebuild every aggregate of ``view`` from the domain; see the module docstring.

    ``progress(report)`` runs after each batch is recorded (a test may raise there to
    interrupt the run: the next call resumes after the batch).
    """
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch must be between 1 and {MAX_BATCH}, got {batch}")
    name = view.spec().name
    ref = rebuild_ref(client, name)
    snapshot = ref.get()
    stored = None if restart else unfinished(snapshot, LOCAL)
    report = RebuildReport(name)
    concurrent = concurrent_error(name, ref)
    if stored is not None:
        report.run, report.resumed = str(stored.get("run")), True
        report.restore(stored)
        walk = KeyWalk(client, ref, report, {"run": report.run}, concurrent, snapshot.update_time)
        outstanding = walk.outstanding()
    else:
        report.run = new_run_id()
        walk = KeyWalk(client, ref, report, {"run": report.run}, concurrent)
        walk.start(snapshot, {"view": name, "mode": LOCAL})
        outstanding = {}
    if walk.run(view, outstanding, batch, progress):
        report.status = REBUILT
    log.info("boiler.rebuilt", **report.as_dict())
    return report
