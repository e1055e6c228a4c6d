"""The durable path: work a trigger could not finish is recorded, then completed later.

Firestore triggers are deployed with platform retries (``Options.platform_retries``): an
invocation that dies (killed, out of memory, timed out) is delivered again. What retries
cannot cover is an event that keeps failing short of a final outcome (contention past
MAX_RETRIES, Firestore unavailable): it is never raised (that would redeliver it for a day),
but recorded in ``_boilerPending/{function}:{eventId}`` (kind, document, error, failures;
shapes in runtime/bookkeeping.py) and handed to the ``boilerRedrive`` task-queue function
(retried with backoff). Only if that hand-off itself fails does the invocation raise, and the
platform delivers the event again.

Without platform retries, an event also writes its pending entry ahead of its first commit
(``WRITE_AHEAD``) and removes it once done, so an invocation that dies leaves the entry for
``redrive_all`` (runtime/redrive.py; CLI: ``python -m boiler pending``)::

    ahead = write_ahead(pending_ref(client, name, event_id), outcome, VIEW)   # beside the reads
    hand_off(client, outcome, error, VIEW)   # failed short of a final outcome: enqueue a redrive
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from google.cloud import firestore

from . import log
from .bookkeeping import VIEW, Work, failure_entry, pending_ref, work_fields, write_ahead_entry

TASK_FUNCTION = "boilerRedrive"  # task-queue function (queue ids allow no "_")
ADMIN_APP = "boiler"
TASK_RETRY_ATTEMPTS = 20
TASK_MIN_BACKOFF_SECONDS = 2
TASK_MAX_BACKOFF_SECONDS = 300

# An event's pending entry, as its run starts: written ahead now (and removed when done),
# there already (a redrive: removed when done), or none (platform retries cover a death).
WRITE_AHEAD, HANDED_OFF, NO_ENTRY = "write-ahead", "handed-off", "none"


def mark(ref: firestore.DocumentReference, outcome: Work, kind: str = VIEW) -> None:
    """Write-ahead: the event is in flight; removed by the commit that finishes it."""
    ref.set(write_ahead_entry(kind, outcome), merge=True)


_background: ThreadPoolExecutor | None = None


def write_ahead(ref: firestore.DocumentReference, outcome: Work, kind: str) -> Future[None]:
    """``mark`` in the background: the entry travels while the event's reads do (one round
    trip, not two); wait on the future before the commit that removes the entry."""
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
    ref = pending_ref(client, outcome.function, outcome.event_id)
    result = ref.set(failure_entry(kind, outcome, error), merge=True)
    # The transforms' results: failedAt's timestamp and failures' new count.
    counts = [v.integer_value for v in result.transform_results if "integer_value" in v]
    failures = counts[0] if counts else 0
    enqueue(outcome.function, outcome.event_id, outcome.document, kind=kind, failures=failures)
    return failures


class Outcome(Work, Protocol):
    """A view event's ``Outcome`` or a ``CommandOutcome``: what ``finish_or_hand_off`` needs."""

    status: str

    def log_fields(self) -> dict[str, Any]: ...


W = TypeVar("W", bound=Outcome)


def finish_or_hand_off(client: firestore.Client, outcome: W, kind: str, run: Callable[[W], W]) -> W:
    """``run(outcome)``; on any exception the work is not lost: status ``pending``, the
    pending entry gets the error and the task queue is asked to finish it (``hand_off``)."""
    try:
        return run(outcome)
    except Exception as error:
        outcome.status = "pending"
        hand_off(client, outcome, error, kind)
        log.error(
            "boiler.pending", error=repr(error), cause=repr(error.__cause__), **outcome.log_fields()
        )
        return outcome


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
        payload = work_fields(kind, function, event_id, document)
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
