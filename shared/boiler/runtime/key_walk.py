"""Resumable walks over every aggregate key of a view model, with progress kept in Firestore.

``boiler migrate`` (runtime/migrate.py) and ``boiler rebuild`` (runtime/rebuild.py) are both
such walks: reconcile (runtime/reconcile.py) over the view's keys in sorted order, ``batch``
keys per call, and after each batch one commit, guarded by the progress document's update
time, that records::

    {View document}: cursor (the last key done), counts (aggregates, rewritten, deleted,
                     heldBack, failed), startedAt, finishedAt (None until done), updatedAt,
                     and the walk's identity (migrate: its version; rebuild: its run id)
    {View document}/_boilerFailures/{key}: each key reconcile could not rebuild, with the
                     identity and the error; deleted once a retry rebuilds it

A walk resumed after an interruption retries its failures first, then goes on after the
cursor. Reconcile is state-based, so a walk is safe beside live triggers and a key already
right costs reads only. The view's stored documents are listed once per walk, not per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..errors import BoilerError
from ..views import ViewModel
from .reconcile import ReconcileReport, aggregate_keys, existing_views, reconcile

FAILURES = "_boilerFailures"  # {progress document}/_boilerFailures/{key}
DEFAULT_BATCH = 200  # keys per reconcile call and progress commit
MAX_BATCH = 499  # one commit: the progress document and a failure entry per key of the batch


@dataclass
class WalkReport:
    """Counts of one walk over a view's keys, over every run of it (``processed``: this
    run's keys, retries included)."""

    view: str
    total: int = 0  # keys: done before this run + listed after the cursor
    aggregates: int = 0  # keys done (a failed key is done, and retried by a later run)
    rewritten: int = 0  # view documents rewritten (missing or different)
    deleted: int = 0  # view documents deleted (no rebuild produces them)
    held_back: int = 0  # aggregates reconcile held back (an invalid source): views as they were
    failures: list[dict[str, str]] = field(default_factory=list)  # {key, error}: outstanding
    processed: int = 0
    cursor: str | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)

    def counts(self) -> dict[str, int]:
        return {
            "aggregates": self.aggregates,
            "rewritten": self.rewritten,
            "deleted": self.deleted,
            "heldBack": self.held_back,
            "failed": self.failed,
        }

    def restore(self, stored: Mapping[str, Any]) -> None:
        """Counts and cursor as a progress document recorded them."""
        counts = stored.get("counts") or {}
        self.cursor = stored.get("cursor")
        self.aggregates = int(counts.get("aggregates", 0))
        self.rewritten = int(counts.get("rewritten", 0))
        self.deleted = int(counts.get("deleted", 0))
        self.held_back = int(counts.get("heldBack", 0))

    def add(self, done: ReconcileReport) -> None:
        self.rewritten += done.stale
        self.deleted += done.orphans
        self.held_back += len(done.invalid)


def stored_views_and_keys(
    view: type[ViewModel], client: firestore.Client
) -> tuple[dict[str, set[str]], list[str]]:
    """Every stored view document of ``view`` by key, and every key reconcile would visit,
    sorted: one listing of the view's documents, shared by all the batches of a walk."""
    from .tallies import TallyBuilder, is_tally_view

    stored = existing_views(view, client)
    if is_tally_view(view):
        from .tally_rebuild import tally_keys

        return stored, tally_keys(TallyBuilder(view, client, origin={"function": "walk"}), stored)
    return stored, aggregate_keys(view, client, stored)


def batches(keys: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


def listed(outstanding: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "error": error} for key, error in sorted(outstanding.items())]


class KeyWalk:
    """The progress document of one walk, every write guarded by its last update time: two
    walks of one view at once would miscount, so the second one stops with ``concurrent``.

    ``identity`` (e.g. ``{"version": 2}``) is written on the document and on each failure
    entry; failures of another identity are left over from an abandoned walk and dropped.
    """

    def __init__(
        self,
        client: firestore.Client,
        ref: firestore.DocumentReference,
        report: WalkReport,
        identity: Mapping[str, Any],
        concurrent: Callable[[], BoilerError],
        update_time: Any = None,
    ) -> None:
        self.client, self.ref, self.report = client, ref, report
        self.identity, self.concurrent, self.update_time = dict(identity), concurrent, update_time
        self.failures = ref.collection(FAILURES)

    def outstanding(self) -> dict[str, str]:
        """{key: error} of this walk's failures; entries of other walks are dropped."""
        found: dict[str, str] = {}
        for snapshot in self.failures.stream():
            entry = snapshot.to_dict() or {}
            if all(entry.get(name) == value for name, value in self.identity.items()):
                found[snapshot.id] = str(entry.get("error", ""))
            else:
                snapshot.reference.delete()
        return found

    def start(self, snapshot: firestore.DocumentSnapshot, extra: Mapping[str, Any]) -> None:
        """A new walk: the old one's failures go, then the document says so."""
        for entry in self.failures.list_documents():
            entry.delete()
        document = (
            self._state()
            | self.identity
            | dict(extra)
            | {"startedAt": firestore.SERVER_TIMESTAMP, "finishedAt": None}
        )
        batch = self.client.batch()
        if snapshot.exists:
            option = self.client.write_option(last_update_time=snapshot.update_time)
            batch.update(self.ref, document, option=option)
        else:
            batch.create(self.ref, document)
        self._commit(batch)

    def run(
        self,
        view: type[ViewModel],
        outstanding: dict[str, str],
        batch: int,
        progress: Callable[[WalkReport], None] | None = None,
    ) -> bool:
        """Retry ``outstanding`` failures, then every key after the cursor; True when no
        failure is left (the document is then marked finished)."""
        report = self.report
        report.failures, report.total = listed(outstanding), report.aggregates
        stored, every = stored_views_and_keys(view, self.client)  # one listing per walk
        for keys in batches(sorted(outstanding), batch):  # failures of an earlier run first
            self.record(keys, reconcile(view, self.client, keys, stored=stored), outstanding, True)
            if progress is not None:
                progress(report)
        remaining = [key for key in every if report.cursor is None or key > report.cursor]
        report.total = report.aggregates + len(remaining)
        for keys in batches(remaining, batch):
            self.record(keys, reconcile(view, self.client, keys, stored=stored), outstanding, False)
            if progress is not None:
                progress(report)
        if outstanding:
            return False
        self.finish()
        return True

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
                entry = {"key": key, "error": failed[key]} | self.identity
                batch.set(self.failures.document(key), entry)
                outstanding[key] = failed[key]
            elif key in outstanding:
                batch.delete(self.failures.document(key))
                del outstanding[key]
        if not retry:
            report.aggregates += len(keys)
            report.cursor = keys[-1]
        report.processed += len(keys)
        report.add(done)
        report.failures = listed(outstanding)
        option = self.client.write_option(last_update_time=self.update_time)
        batch.update(self.ref, self._state(), option=option)
        self._commit(batch)

    def finish(self) -> None:
        option = self.client.write_option(last_update_time=self.update_time)
        batch = self.client.batch()
        batch.update(self.ref, {"finishedAt": firestore.SERVER_TIMESTAMP}, option=option)
        self._commit(batch)

    def _state(self) -> dict[str, Any]:
        return {
            "cursor": self.report.cursor,
            "counts": self.report.counts(),
            "updatedAt": firestore.SERVER_TIMESTAMP,
        }

    def _commit(self, batch: Any) -> None:
        try:
            results = batch.commit()
        except (gexc.FailedPrecondition, gexc.AlreadyExists) as error:
            raise self.concurrent() from error
        # The progress document's write comes last in every batch.
        self.update_time = results[-1].update_time
