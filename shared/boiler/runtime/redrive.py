"""Redriving: the work of a pending entry (or a redrive task) run again, by kind.

What the ``boilerRedrive`` task function and ``python -m boiler pending`` run. The work is
state-based (views) or guarded by the command's status, so running it again, late or twice,
is always safe::

    report = redrive_all(compile_app(app), client)   # {"redriven": 3, "failed": 0, ...}
    redrive(build, "meeting_session_on_ticket", event_id, "meetings/m1/tickets/u1")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore

from ..compiler import Build
from . import log
from .bookkeeping import COMMAND, VIEW, PendingWork, pending_entries, pending_ref, pending_since
from .client import firestore_client
from .command_order import instant
from .command_runner import CommandOutcome, CommandRunner, without_status
from .durable import HANDED_OFF, NO_ENTRY
from .options import Options
from .pipeline import Outcome
from .tally_pipeline import pipeline_for


def _redrive_view(
    build: Build, work: PendingWork, client: firestore.Client | None, options: Options | None
) -> Any:
    if work.function not in {trigger.name for trigger in build.triggers}:
        return None
    pipeline = pipeline_for(build.trigger(work.function), client=client, options=options)
    outcome = Outcome(work.function, work.event_id, work.document)
    return pipeline.run(outcome, HANDED_OFF)  # removes the pending entry once done


def _redrive_command(
    build: Build, work: PendingWork, client: firestore.Client | None, options: Options | None
) -> Any:
    spec = next((spec for spec in build.commands if spec.name == work.function), None)
    if spec is None:
        return None
    runner = CommandRunner(spec.command, name=work.function, client=client, options=options)
    outcome = CommandOutcome(work.function, work.event_id, work.document)
    return runner.run(outcome, HANDED_OFF)


REDRIVERS: dict[str, Callable[..., Any]] = {VIEW: _redrive_view, COMMAND: _redrive_command}


def redrive(
    build: Build,
    function: str,
    event_id: str,
    document: str,
    client: firestore.Client | None = None,
    kind: str = VIEW,
    options: Options | None = None,
) -> Any:
    """What the task function runs: the event's work again; raises if it fails (task retries).

    Returns the view ``Outcome`` or ``CommandOutcome``; ``None`` when ``function`` no longer
    exists in ``build`` (renamed or removed): its pending entry is deleted, nothing can run it.
    """
    work = PendingWork(kind, function, event_id, document)
    redriver = REDRIVERS.get(kind)
    outcome = redriver(build, work, client, options) if redriver else None
    if outcome is None:
        log.warning("boiler.obsolete_pending", kind=kind, function=function, eventId=event_id)
        pending_ref(client or firestore_client(), function, event_id).delete()
    return outcome


@dataclass
class RedriveReport:
    """What ``redrive_all`` did."""

    redriven: int = 0  # pending entries completed
    failed: int = 0
    skipped: int = 0  # too young: maybe still in flight
    obsolete: int = 0  # entries of functions the app no longer has: logged and deleted
    unprocessed: int = 0  # commands without a status nor a pending entry, processed now
    errors: list[str] = field(default_factory=list)
    obsolete_entries: list[str] = field(default_factory=list)  # ids of the deleted entries

    def as_dict(self) -> dict[str, Any]:
        return {
            "redriven": self.redriven,
            "failed": self.failed,
            "skipped": self.skipped,
            "obsolete": self.obsolete,
            "unprocessed": self.unprocessed,
            "errors": self.errors,
            "obsoleteEntries": self.obsolete_entries,
        }


def redrive_all(
    build: Build,
    client: firestore.Client,
    min_age: dt.timedelta = dt.timedelta(0),
    options: Options | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RedriveReport:
    """Complete every pending entry older than ``min_age``, then every command left without a
    status (its invocation may have died before its write-ahead entry landed); idempotent
    beside live triggers. ``progress(done, total)`` follows the pending entries.

    Resumable by construction: an entry is deleted once its work is done, so a run that stops
    midway leaves exactly the entries still to do."""
    report = RedriveReport()
    now = dt.datetime.now(dt.UTC)
    entries = list(pending_entries(client))
    for done, snapshot in enumerate(entries):
        if progress is not None:
            progress(done, len(entries))
        entry = snapshot.to_dict() or {}
        started = pending_since(entry)
        if started is not None and now - started < min_age:
            report.skipped += 1
            continue
        work = PendingWork.of(entry)
        try:
            outcome = redrive(
                build, work.function, work.event_id, work.document, client, work.kind, options
            )
        except Exception as error:
            report.failed += 1
            report.errors.append(f"{snapshot.id}: {error!r}")
            log.error("boiler.redrive_failed", pending=snapshot.id, error=repr(error))
            continue
        if outcome is None:
            report.obsolete += 1
            report.obsolete_entries.append(snapshot.id)
        else:
            report.redriven += 1
    if progress is not None:
        progress(len(entries), len(entries))
    _process_unprocessed_commands(build, client, now - min_age, report, options)
    return report


def _process_unprocessed_commands(
    build: Build,
    client: firestore.Client,
    created_before: dt.datetime,
    report: RedriveReport,
    options: Options | None,
) -> None:
    cutoff = instant(created_before)
    for spec in build.commands:
        runner = CommandRunner(spec.command, name=spec.name, client=client, options=options)
        for snapshot in without_status(client, spec.command):
            if snapshot.create_time is not None and instant(snapshot.create_time) > cutoff:
                report.skipped += 1  # its trigger may still be running
                continue
            report.unprocessed += 1
            path = snapshot.reference.path
            outcome = CommandOutcome(spec.name, f"pending-scan:{snapshot.id}", path)
            try:
                runner.run(outcome, NO_ENTRY)  # found by its missing status: no entry exists
            except Exception as error:
                report.failed += 1
                report.errors.append(f"{snapshot.reference.path}: {error!r}")
                log.error("boiler.redrive_failed", document=outcome.document, error=repr(error))
