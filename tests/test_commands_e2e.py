"""Commands end to end: real client requests (rules enforced) -> functions emulator -> views.

Clients write through the REST API as signed-in users (unsigned emulator JWTs), so the
generated firestore.rules of the repository apply; functions/main.py runs the command
triggers and the view triggers in firebase-tools' functions emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from boiler.testing import EmulatorSuite, wait_until
from boiler.testing.events import document_written_event, post_to_emulator
from boiler.testing.rest import RestClient
from google.cloud import firestore

from .meeting_fixtures import attending, create_meeting, logged_outcomes, view

TIMEOUT = 60  # cold Python workers start on their first event, about 0.5 s each
pytestmark = pytest.mark.suite


def as_user(suite: EmulatorSuite, uid: str) -> RestClient:
    return RestClient(suite.firestore_host, suite.project_id, uid)


def outcome(db: firestore.Client, path: str) -> dict[str, Any]:
    """The command document once boiler has processed it."""
    return wait_until(
        lambda: (data := db.document(path).get().to_dict()) and data.get("status") and data,
        timeout=TIMEOUT,
        message=f"{path} processed",
    )


@pytest.fixture
def meeting(suite_firestore: firestore.Client) -> firestore.Client:
    create_meeting(suite_firestore)  # m1 in-session: u1 host attending, u2 attending, u3 not
    for uid in ("u1", "u2", "u3"):
        wait_until(lambda uid=uid: attending(suite_firestore, uid) == ["u1", "u2"], timeout=TIMEOUT)
    return suite_firestore


def test_attendance_request_updates_every_participants_view(
    emulator_suite: EmulatorSuite, meeting: firestore.Client
) -> None:
    path = "users/u3/attendanceRequests/r1"
    response = as_user(emulator_suite, "u3").create(path, {"meetingId": "m1", "attendance": True})
    assert response.status_code == 200, response.text
    result = outcome(meeting, path)
    assert (result["status"], result["reason"]) == ("applied", None)
    assert meeting.document("meetings/m1/tickets/u3").get().get("attendance") is True
    for uid in ("u1", "u2", "u3"):
        wait_until(lambda uid=uid: attending(meeting, uid) == ["u1", "u2", "u3"], timeout=TIMEOUT)
    # The creator watches the outcome through the rules; another user cannot.
    mine = as_user(emulator_suite, "u3").get(path)
    assert mine.status_code == 200 and RestClient.fields(mine)["status"] == "applied"
    assert as_user(emulator_suite, "u2").get(path).status_code == 403


def test_non_host_status_request_is_denied_or_rejected(
    emulator_suite: EmulatorSuite, meeting: firestore.Client
) -> None:
    data = {"newStatus": "closed", "requestedBy": "u2"}
    denied = as_user(emulator_suite, "u2").create("meetings/m1/statusRequests/s1", data)
    assert denied.status_code == 403  # the rules stop it at the door
    # One that got past the rules (written by a script, or the role changed since): the trigger.
    meeting.document("meetings/m1/statusRequests/s2").set(data)
    result = outcome(meeting, "meetings/m1/statusRequests/s2")
    assert (result["status"], result["reason"]) == (
        "rejected",
        "only a host of meeting m1 may change its status",
    )
    assert meeting.document("meetings/m1").get().get("status") == "in-session"


def test_host_closes_the_meeting_and_cannot_reopen_it(
    emulator_suite: EmulatorSuite, meeting: firestore.Client
) -> None:
    host = as_user(emulator_suite, "u1")
    close = {"newStatus": "closed", "requestedBy": "u1"}
    assert host.create("meetings/m1/statusRequests/c1", close).status_code == 200
    assert outcome(meeting, "meetings/m1/statusRequests/c1")["status"] == "applied"
    for uid in ("u1", "u2", "u3"):
        wait_until(
            lambda uid=uid: (view(meeting, uid) or {}).get("inSession") is False, timeout=TIMEOUT
        )
    reopen = {"newStatus": "in-session", "requestedBy": "u1"}
    assert host.create("meetings/m1/statusRequests/c2", reopen).status_code == 200
    result = outcome(meeting, "meetings/m1/statusRequests/c2")
    assert result["status"] == "rejected"
    assert result["reason"].startswith("meeting m1 cannot go from 'closed' to 'in-session'")
    assert meeting.document("meetings/m1").get().get("status") == "closed"


def test_a_replayed_command_event_changes_nothing(
    emulator_suite: EmulatorSuite, meeting: firestore.Client
) -> None:
    path = "users/u2/attendanceRequests/r9"
    assert as_user(emulator_suite, "u2").create(path, {"meetingId": "m1", "attendance": False}).ok
    assert outcome(meeting, path)["status"] == "applied"
    for uid in ("u1", "u2", "u3"):
        wait_until(lambda uid=uid: attending(meeting, uid) == ["u1"], timeout=TIMEOUT)
    command = meeting.document(path).get()
    ticket = meeting.document("meetings/m1/tickets/u2").get()
    event = document_written_event(
        path,
        None,
        {"meetingId": "m1", "attendance": False},
        event_id="replay-1",
        project=emulator_suite.project_id,
    )
    for _ in range(2):  # the same event, twice, as the platform may redeliver it
        status = post_to_emulator(
            emulator_suite.url("functions"),
            emulator_suite.project_id,
            "us-central1",
            "apply_attendance_request",
            event,
        )
        assert status in (200, 204)
    # Both deliveries ran and were recognised (the function logs one JSON line per outcome).
    wait_until(
        lambda: (
            emulator_suite.log_path.read_text(errors="replace").count('"eventId": "replay-1"') >= 2
        ),
        timeout=TIMEOUT,
        message="both replays processed",
    )
    log = emulator_suite.log_path.read_text(errors="replace")
    lines = [line for line in log.splitlines() if '"eventId": "replay-1"' in line]
    assert all('"status": "duplicate"' in line for line in lines), lines
    assert meeting.document(path).get().update_time == command.update_time
    assert meeting.document("meetings/m1/tickets/u2").get().update_time == ticket.update_time


def test_a_verified_read_changes_nothing_and_its_events_write_nothing(
    meeting: firestore.Client, emulator_suite: EmulatorSuite
) -> None:
    """``Attempt.verify`` (how a command guards what it only read) is a no-op write: the
    document keeps its update time. Production Firestore fires no trigger for a no-op write;
    the emulator suite sometimes does (seen in about half the runs: 1-2 extra events for 3
    verifies). Such an event finds the views in step and writes nothing."""
    from boiler.runtime.attempt import Attempt

    def outcomes() -> list[dict[str, Any]]:
        """The logged outcome of every meeting_session_on_meeting event for meetings/m1."""
        return [
            outcome
            for outcome in logged_outcomes(emulator_suite.log_path)
            if outcome["function"] == "meeting_session_on_meeting"
            and outcome["document"] == "meetings/m1"
        ]

    ref = meeting.document("meetings/m1")
    wait_until(lambda: outcomes(), timeout=TIMEOUT, message="the meeting's creation")
    before = len(outcomes())
    seen = ref.get()
    for _ in range(3):
        attempt = Attempt(meeting)
        attempt.verify(ref, seen)
        attempt.commit()
    assert ref.get().update_time == seen.update_time
    assert ref.get().to_dict() == seen.to_dict()

    def views_written() -> list[int]:
        """viewsWritten of each event since the verifies, in the order they finished."""
        return [entry["viewsWritten"] for entry in outcomes()[before:]]

    # Two real writes after the verifies: an event the verifies fired comes before the second.
    for count, title in enumerate(("Renamed once", "Renamed twice"), start=1):
        ref.update({"title": title})
        wait_until(
            lambda count=count: views_written().count(3) >= count, timeout=TIMEOUT, message=title
        )
    written = views_written()
    # The renames rewrote 3 views each; anything else (a verify's event) wrote nothing.
    assert sorted(written)[-2:] == [3, 3] and written.count(3) == 2, written
    assert set(written) <= {0, 3} and len(written) <= 5, written
