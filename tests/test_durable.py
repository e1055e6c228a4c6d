"""The durable path in firebase-tools' emulators: a pending entry handed to the task queue is
finished by the boilerRedrive task function (the tasks emulator starts with functions)."""

from __future__ import annotations

from typing import Any

import pytest
from boiler.runtime import bookkeeping, durable
from boiler.testing import wait_until
from google.cloud import firestore

from .meeting_fixtures import create_meeting, view

pytestmark = pytest.mark.suite
TIMEOUT = 60


def test_enqueued_pending_event_is_completed_by_the_task_function(
    suite_firestore: firestore.Client, emulator_suite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = suite_firestore
    create_meeting(db)
    wait_until(
        lambda: view(db, "u3") is not None, timeout=TIMEOUT, message="views built by the triggers"
    )
    wait_until(
        lambda: not list(db.collection(bookkeeping.PENDING).limit(1).stream()), timeout=TIMEOUT
    )
    # An event handed to the durable path: its pending entry is all that is left, and (to
    # make the redo visible) its aggregate record and one view are gone too.
    pending = bookkeeping.pending_ref(db, "meeting_session_on_meeting", "lost-1")
    pending.set(
        {
            "kind": "view",
            "function": "meeting_session_on_meeting",
            "eventId": "lost-1",
            "document": "meetings/m1",
        }
    )
    bookkeeping.aggregate_ref(db, "MeetingSession", "m1").delete()
    db.document("users/u3/meetingSessions/m1").delete()

    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", emulator_suite.host("tasks"))
    assert durable.enqueue("meeting_session_on_meeting", "lost-1", "meetings/m1")

    # Only the redrive removes the entry, once the event is applied (by it, or by a trigger
    # still running from create_meeting that rebuilt the record first: then it finds the
    # change covered).
    wait_until(
        lambda: not pending.get().exists,
        timeout=TIMEOUT,
        message="the task function applied the event and cleared its pending entry",
    )
    assert bookkeeping.aggregate_ref(db, "MeetingSession", "m1").get().exists
    assert view(db, "u3") is not None and view(db, "u3")["attending"] == view(db, "u1")["attending"]  # type: ignore[index]


def test_a_handed_off_command_is_applied_by_the_task_function(
    suite_firestore: firestore.Client, emulator_suite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = suite_firestore
    create_meeting(db)
    wait_until(lambda: view(db, "u3") is not None, timeout=TIMEOUT, message="views built")
    # A command its trigger could not finish: created (already marked, so the trigger skips
    # it), then unmarked; its pending entry is what the hand-off leaves.
    path = "users/u3/attendanceRequests/lost"
    command = db.document(path)
    command.set({"meetingId": "m1", "attendance": True, "status": "hold"})
    wait_until(lambda: _logged(emulator_suite, path), timeout=TIMEOUT, message="trigger skipped")
    command.update({"status": firestore.DELETE_FIELD})
    function = "apply_attendance_request"
    pending = bookkeeping.pending_ref(db, function, "lost-c1")
    pending.set({"kind": "command", "function": function, "eventId": "lost-c1", "document": path})

    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", emulator_suite.host("tasks"))
    assert durable.enqueue(function, "lost-c1", path, kind="command", failures=1)

    wait_until(
        lambda: command.get().get("status") == "applied",
        timeout=TIMEOUT,
        message="the task function applied the command",
    )
    wait_until(lambda: not pending.get().exists, timeout=TIMEOUT, message="pending entry cleared")
    assert db.document("meetings/m1/tickets/u3").get().get("attendance") is True
    wait_until(lambda: len((view(db, "u1") or {}).get("attending", [])) == 3, timeout=TIMEOUT)


def _logged(suite: Any, document: str) -> bool:
    return f'"document": "{document}"' in suite.log_path.read_text(errors="replace")
