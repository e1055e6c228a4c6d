"""The durable path: work a trigger could not finish is recorded, then completed later.

Python Firestore triggers are never retried by the platform. So before its first commit an
event writes ``_boilerPending/{function}:{eventId}`` (document path, attempts), deleted once
the ledger entry says the event is done. An event that fails leaves the entry with its error
and enqueues a task for the ``boilerRedrive`` task-queue function (retried with backoff);
an invocation that dies leaves the entry for ``redrive_all`` (CLI: ``python -m boiler
pending``). Redriving reruns the same state-based rebuild, so it is always safe::

    report = redrive_all(compile_app(app), client)   # {"redriven": 3, "failed": 0, ...}
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.cloud import firestore

from . import log, store

if TYPE_CHECKING:
    from ..compiler import Build
    from .pipeline import Outcome

TASK_FUNCTION = "boilerRedrive"  # task-queue function (queue ids allow no "_")
ADMIN_APP = "boiler"
TASK_RETRY_ATTEMPTS = 20
TASK_MIN_BACKOFF_SECONDS = 2
TASK_MAX_BACKOFF_SECONDS = 300


def pending_ref(
    client: firestore.Client, function: str, event_id: str
) -> firestore.DocumentReference:
    return client.collection(store.PENDING).document(store.safe_id(function, event_id))


def mark(ref: firestore.DocumentReference, outcome: Outcome) -> None:
    """Write-ahead: the event is in flight; removed by the commit that writes its ledger entry."""
    ref.set(
        {
            "kind": "view",
            "function": outcome.function,
            "eventId": outcome.event_id,
            "document": outcome.document,
            "attempts": firestore.Increment(1),
            "startedAt": firestore.SERVER_TIMESTAMP,
        },
        merge=True,
    )


def hand_off(client: firestore.Client, outcome: Outcome, error: BaseException) -> None:
    """Record why the event failed on its pending entry and ask the task queue to finish it."""
    pending_ref(client, outcome.function, outcome.event_id).set(
        {
            "kind": "view",
            "function": outcome.function,
            "eventId": outcome.event_id,
            "document": outcome.document,
            "error": repr(error),
            "cause": repr(error.__cause__) if error.__cause__ else None,
            "failedAt": firestore.SERVER_TIMESTAMP,
        },
        merge=True,
    )
    enqueue(outcome.function, outcome.event_id, outcome.document)


def task_id(function: str, event_id: str) -> str:
    """Cloud Tasks ids allow letters, digits, '-' and '_': one task per (function, event)."""
    import hashlib

    return f"{function}-{hashlib.sha1(event_id.encode()).hexdigest()[:20]}"


def enqueue(function: str, event_id: str, document: str) -> bool:
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
        # One task per event in production; the tasks emulator mangles explicit task names.
        named = not os.environ.get("CLOUD_TASKS_EMULATOR_HOST")
        options = admin_functions.TaskOptions(
            task_id=task_id(function, event_id) if named else None, schedule_delay_seconds=1
        )
        # The task handler is callable-style: it reads the body's "data" (the Python Admin SDK
        # posts the payload as the whole body, unlike the Node one, so wrap it here).
        payload = {"function": function, "eventId": event_id, "document": document}
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


def redrive(
    build: Build,
    function: str,
    event_id: str,
    document: str,
    client: firestore.Client | None = None,
) -> Outcome:
    """What the task function runs: the event's rebuild again; raises if it fails (task retries)."""
    from .pipeline import Outcome, Pipeline

    pipeline = Pipeline(build.trigger(function), client=client)
    outcome = pipeline.run(Outcome(function, event_id, document), write_ahead=False)
    if outcome.status == "duplicate":  # finished by another delivery: nothing left to do
        pending_ref(pipeline.client, function, event_id).delete()
    return outcome


@dataclass
class RedriveReport:
    """What ``redrive_all`` did."""

    redriven: int = 0
    failed: int = 0
    skipped: int = 0  # too young (maybe still in flight) or not a view trigger
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "redriven": self.redriven,
            "failed": self.failed,
            "skipped": self.skipped,
            "errors": self.errors,
        }


def pending_entries(client: firestore.Client) -> Iterator[firestore.DocumentSnapshot]:
    yield from client.collection(store.PENDING).stream()


def redrive_all(
    build: Build,
    client: firestore.Client,
    min_age: dt.timedelta = dt.timedelta(0),
    commands: Callable[[str, str, str], Any] | None = None,
) -> RedriveReport:
    """Complete every pending entry older than ``min_age``; idempotent beside live triggers."""
    report = RedriveReport()
    now = dt.datetime.now(dt.UTC)
    names = {trigger.name for trigger in build.triggers}
    for snapshot in pending_entries(client):
        entry = snapshot.to_dict() or {}
        started = entry.get("startedAt") or entry.get("at")
        if started is not None and now - started < min_age:
            report.skipped += 1
            continue
        function = str(entry.get("function", ""))
        event_id, document = str(entry.get("eventId", "")), str(entry.get("document", ""))
        try:
            if entry.get("kind", "view") == "view" and function in names:
                redrive(build, function, event_id, document, client)
            elif commands is not None:
                commands(function, event_id, document)
                snapshot.reference.delete()
            else:
                report.skipped += 1
                continue
            report.redriven += 1
        except Exception as error:
            report.failed += 1
            report.errors.append(f"{snapshot.id}: {error!r}")
            log.error("boiler.redrive_failed", pending=snapshot.id, error=repr(error))
    return report
