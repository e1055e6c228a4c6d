"""The durable path: work a trigger could not finish is recorded, then completed later.

Python Firestore triggers are never retried by the platform. So before its first commit an
event (a view trigger's or a command's) writes ``_boilerPending/{function}:{eventId}``
(kind, document, attempts, startedAt), deleted once the ledger entry or the command's status
says it is done. A failure that is not a final outcome leaves the entry with its error and
failure count and enqueues a task for the ``boilerRedrive`` task-queue function (retried
with backoff); an invocation that dies leaves the entry for ``redrive_all`` (CLI: ``python
-m boiler pending``). Redriving reruns the same state-based work, so it is always safe::

    report = redrive_all(compile_app(app), client)   # {"redriven": 3, "failed": 0, ...}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from google.cloud import firestore

from . import log, store

if TYPE_CHECKING:
    from ..compiler import Build

TASK_FUNCTION = "boilerRedrive"  # task-queue function (queue ids allow no "_")
ADMIN_APP = "boiler"
TASK_RETRY_ATTEMPTS = 20
TASK_MIN_BACKOFF_SECONDS = 2
TASK_MAX_BACKOFF_SECONDS = 300
VIEW, COMMAND = "view", "command"  # the kinds of work a pending entry holds


class Work(Protocol):
    """What a pending entry names: a view trigger's or a command's event (their outcomes)."""

    function: str
    event_id: str
    document: str


def pending_ref(
    client: firestore.Client, function: str, event_id: str
) -> firestore.DocumentReference:
    return client.collection(store.PENDING).document(store.safe_id(function, event_id))


def pending_entry(kind: str, work: Work, **fields: Any) -> dict[str, Any]:
    """The one shape of a ``_boilerPending`` document (merged: each writer adds its fields).

    >>> pending_entry(COMMAND, outcome, failures=firestore.Increment(1))["kind"]
    'command'
    """
    return {
        "kind": kind,
        "function": work.function,
        "eventId": work.event_id,
        "document": work.document,
        **fields,
    }


def mark(ref: firestore.DocumentReference, outcome: Work, kind: str = VIEW) -> None:
    """Write-ahead: the event is in flight; removed by the commit that finishes it."""
    ref.set(
        pending_entry(
            kind, outcome, attempts=firestore.Increment(1), startedAt=firestore.SERVER_TIMESTAMP
        ),
        merge=True,
    )


_background: ThreadPoolExecutor | None = None


def write_ahead(ref: firestore.DocumentReference, outcome: Work, kind: str) -> Future[None]:
    """``mark`` in the background: the entry travels while the event's reads do."""
    global _background
    if _background is None:
        _background = ThreadPoolExecutor(max_workers=8, thread_name_prefix="boiler-write-ahead")
    return _background.submit(mark, ref, outcome, kind)


def hand_off(
    client: firestore.Client, outcome: Work, error: BaseException, kind: str = VIEW
) -> int:
    """Record why the event failed on its pending entry and ask the task queue to finish it.

    Returns the entry's failure count, which names the task: Cloud Tasks refuses a task name
    for about an hour after that task ran, so each failure of one event needs its own.
    """
    result = pending_ref(client, outcome.function, outcome.event_id).set(
        pending_entry(
            kind,
            outcome,
            error=repr(error),
            cause=repr(error.__cause__) if error.__cause__ else None,
            failedAt=firestore.SERVER_TIMESTAMP,
            failures=firestore.Increment(1),
        ),
        merge=True,
    )
    # The transforms' results: failedAt's timestamp and failures' new count.
    counts = [v.integer_value for v in result.transform_results if "integer_value" in v]
    failures = counts[0] if counts else 0
    enqueue(outcome.function, outcome.event_id, outcome.document, kind=kind, failures=failures)
    return failures


def task_id(function: str, event_id: str, failures: int = 0) -> str:
    """One task per (function, event, failure); Cloud Tasks ids allow letters, digits, - and _."""
    return f"{function}-{hashlib.sha1(event_id.encode()).hexdigest()[:20]}-{failures}"


def enqueue(
    function: str, event_id: str, document: str, kind: str = VIEW, failures: int = 0
) -> bool:
    """Enqueue a redrive task; False (logged) if no task queue is reachable (the entry stays)."""
    if os.environ.get("FIRESTORE_EMULATOR_HOST") and not os.environ.get(
        "CLOUD_TASKS_EMULATOR_HOST"
    ):
        log.warning(
            "boiler.enqueue_skipped", reason="emulator without the tasks emulator", eventId=event_id
        )
        return False  # never reach for production Cloud Tasks from a local run
    try:
        from firebase_admin import functions as admin_functions

        queue = admin_functions.task_queue(TASK_FUNCTION, app=_admin_app())
        # One task per failure of an event in production; the tasks emulator mangles names.
        named = not os.environ.get("CLOUD_TASKS_EMULATOR_HOST")
        options = admin_functions.TaskOptions(
            task_id=task_id(function, event_id, failures) if named else None,
            schedule_delay_seconds=1,
        )
        # The task handler is callable-style: it reads the body's "data" (the Python Admin SDK
        # posts the payload as the whole body, unlike the Node one, so wrap it here).
        payload = {"kind": kind, "function": function, "eventId": event_id, "document": document}
        queue.enqueue({"data": payload}, options)
        return True
    except Exception as error:  # the pending entry is already durable; redrive_all finds it
        log.warning("boiler.enqueue_failed", function=function, eventId=event_id, error=repr(error))
        return False


def _admin_app() -> Any:
    """A firebase_admin app for the current project (one per process; rebuilt if it changed)."""
    import firebase_admin

    from .client import project_id

    project = project_id()
    try:
        app = firebase_admin.get_app(ADMIN_APP)
        if app.project_id == project:
            return app
        firebase_admin.delete_app(app)
    except ValueError:
        pass
    return firebase_admin.initialize_app(
        options={"projectId": project} if project else None, name=ADMIN_APP
    )


# -- redriving: the same work again, by kind --------------------------------------------------
def _redrive_view(
    build: Build, function: str, event_id: str, document: str, client: firestore.Client | None
) -> Any:
    from .pipeline import Outcome, Pipeline

    if function not in {trigger.name for trigger in build.triggers}:
        return None
    pipeline = Pipeline(build.trigger(function), client=client)
    outcome = pipeline.run(Outcome(function, event_id, document), write_ahead=False)
    if outcome.status == "duplicate":  # finished by another delivery: nothing left to do
        pending_ref(pipeline.client, function, event_id).delete()
    return outcome


def _redrive_command(
    build: Build, function: str, event_id: str, document: str, client: firestore.Client | None
) -> Any:
    from .command_runner import CommandOutcome, CommandRunner

    spec = next((spec for spec in build.commands if spec.name == function), None)
    if spec is None:
        return None
    runner = CommandRunner(spec.command, name=function, client=client)
    return runner.run(CommandOutcome(function, event_id, document), write_ahead=False)


REDRIVERS: dict[str, Callable[..., Any]] = {VIEW: _redrive_view, COMMAND: _redrive_command}


def redrive(
    build: Build,
    function: str,
    event_id: str,
    document: str,
    client: firestore.Client | None = None,
    kind: str = VIEW,
) -> Any:
    """What the task function runs: the event's work again; raises if it fails (task retries).

    Returns the view ``Outcome`` or ``CommandOutcome``; ``None`` when ``function`` no longer
    exists in ``build`` (renamed or removed): its pending entry is deleted, nothing can run it.
    """
    redriver = REDRIVERS.get(kind)
    outcome = redriver(build, function, event_id, document, client) if redriver else None
    if outcome is None:
        from .client import firestore_client

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


def pending_entries(client: firestore.Client) -> Iterator[firestore.DocumentSnapshot]:
    yield from client.collection(store.PENDING).stream()


def redrive_all(
    build: Build,
    client: firestore.Client,
    min_age: dt.timedelta = dt.timedelta(0),
) -> RedriveReport:
    """Complete every pending entry older than ``min_age``, then every command left without a
    status (its invocation may have died before its write-ahead entry landed); idempotent
    beside live triggers."""
    report = RedriveReport()
    now = dt.datetime.now(dt.UTC)
    for snapshot in pending_entries(client):
        entry = snapshot.to_dict() or {}
        started = entry.get("startedAt") or entry.get("failedAt")
        if started is not None and now - started < min_age:
            report.skipped += 1
            continue
        function, kind = str(entry.get("function", "")), str(entry.get("kind", VIEW))
        event_id, document = str(entry.get("eventId", "")), str(entry.get("document", ""))
        try:
            outcome = redrive(build, function, event_id, document, client, kind)
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
    _process_unprocessed_commands(build, client, now - min_age, report)
    return report


def _process_unprocessed_commands(
    build: Build, client: firestore.Client, created_before: dt.datetime, report: RedriveReport
) -> None:
    from .command_order import instant
    from .command_runner import CommandOutcome, CommandRunner, without_status

    cutoff = instant(created_before)
    for spec in build.commands:
        runner = CommandRunner(spec.command, name=spec.name, client=client)
        for snapshot in without_status(client, spec.command):
            if snapshot.create_time is not None and instant(snapshot.create_time) > cutoff:
                report.skipped += 1  # its trigger may still be running
                continue
            report.unprocessed += 1
            path = snapshot.reference.path
            outcome = CommandOutcome(spec.name, f"pending-scan:{snapshot.id}", path)
            try:
                runner.run(outcome, write_ahead=False)
            except Exception as error:
                report.failed += 1
                report.errors.append(f"{snapshot.reference.path}: {error!r}")
                log.error("boiler.redrive_failed", document=outcome.document, error=repr(error))
