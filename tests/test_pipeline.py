"""The trigger pipeline in-process against the real Firestore emulator."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from boiler import compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.options import Options
from boiler.runtime.pipeline import Outcome, Pipeline
from boiler.testing import wait_until
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from meeting_room import MeetingSession, app

from .meeting_fixtures import attending, create_meeting, view

BUILD = compile_app(app)


def deliver(
    db: firestore.Client,
    source: str,
    document: str,
    event_id: str | None = None,
    options: Options | None = None,
) -> Outcome:
    """Run the trigger for ``source`` (meeting/ticket/user/location) as one event delivery would."""
    trigger = BUILD.trigger(f"meeting_session_on_{source}")
    pipeline = Pipeline(trigger, client=db, options=options)
    return pipeline.handle(event_id or str(uuid.uuid4()), document)


@pytest.fixture
def meeting(firestore: firestore.Client) -> firestore.Client:
    create_meeting(firestore)
    outcome = deliver(firestore, "meeting", "meetings/m1")
    assert (outcome.status, outcome.views_written) == ("applied", 3)
    return firestore


def test_first_build_writes_one_view_per_participant(meeting: firestore.Client) -> None:
    for uid in ("u1", "u2", "u3"):
        assert attending(meeting, uid) == ["u1", "u2"]
    assert view(meeting, "u2")["numHearingAidRequested"] == 1  # type: ignore[index]


def test_duplicate_delivery_changes_nothing(meeting: firestore.Client) -> None:
    meeting.document("meetings/m1/tickets/u3").update({"attendance": True})
    first = deliver(meeting, "ticket", "meetings/m1/tickets/u3", event_id="evt-1")
    before = {
        uid: meeting.document(f"users/{uid}/meetingSessions/m1").get() for uid in ("u1", "u2", "u3")
    }
    second = deliver(meeting, "ticket", "meetings/m1/tickets/u3", event_id="evt-1")
    assert (first.status, first.views_written) == ("applied", 3)
    assert (second.status, second.views_written) == ("duplicate", 0)
    for uid, snapshot in before.items():
        after = meeting.document(f"users/{uid}/meetingSessions/m1").get()
        assert after.update_time == snapshot.update_time
    # Applied in one commit: marked in the record that commit wrote, no ledger document.
    record = bookkeeping.aggregate_ref(meeting, "MeetingSession", "m1").get()
    mark = bookkeeping.event_mark("meeting_session_on_ticket", "evt-1")
    assert record.get("applied")[-1] == mark
    assert not bookkeeping.ledger_ref(meeting, "meeting_session_on_ticket", "evt-1").get().exists


def test_a_record_keeps_the_marks_of_its_last_events_only(meeting: firestore.Client) -> None:
    ticket = meeting.document("meetings/m1/tickets/u3")
    total = bookkeeping.MARKS_KEPT + 5
    for number in range(total):
        ticket.update({"attendance": number % 2 == 0})
        deliver(meeting, "ticket", ticket.path, event_id=f"toggle-{number}")
    record = bookkeeping.aggregate_ref(meeting, "MeetingSession", "m1").get()
    expected = [
        bookkeeping.event_mark("meeting_session_on_ticket", f"toggle-{number}")
        for number in range(total - bookkeeping.MARKS_KEPT, total)
    ]
    assert record.get("applied") == expected
    # A redelivery of an event whose mark aged out rebuilds from current state: no change.
    again = deliver(meeting, "ticket", ticket.path, event_id="toggle-0")
    assert (again.status, again.views_written) == ("unchanged", 0)


def test_stale_event_never_moves_a_view_backwards(meeting: firestore.Client) -> None:
    ticket = meeting.document("meetings/m1/tickets/u3")
    ticket.update({"attendance": True})  # event A
    ticket.update({"attendance": False})  # event B
    deliver(meeting, "ticket", ticket.path, event_id="B")
    deliver(meeting, "ticket", ticket.path, event_id="A")  # arrives late
    assert attending(meeting, "u1") == ["u1", "u2"]


def test_unchanged_views_are_not_rewritten(meeting: firestore.Client) -> None:
    meeting.document("users/u3").update({"organization": "Acme"})  # same value: nothing changes
    outcome = deliver(meeting, "user", "users/u3")
    assert (outcome.aggregates, outcome.views_written) == (1, 0)


def test_rename_reaches_every_meeting_of_the_user(meeting: firestore.Client) -> None:
    create_meeting(meeting, "m2", {"u2": True, "u1": False})
    deliver(meeting, "meeting", "meetings/m2")
    meeting.document("users/u2").update({"firstName": "Bob"})
    outcome = deliver(meeting, "user", "users/u2")
    assert (outcome.aggregates, outcome.views_written) == (2, 5)
    for uid, meeting_id in [("u1", "m1"), ("u3", "m1"), ("u1", "m2")]:
        names = [entry["name"] for entry in view(meeting, uid, meeting_id)["attending"]]  # type: ignore[index]
        assert "Bob Ma" in names


def test_participant_removed_loses_view_and_entry(meeting: firestore.Client) -> None:
    meeting.document("meetings/m1").update({"participantIds": ["u1", "u3"]})
    outcome = deliver(meeting, "meeting", "meetings/m1")
    assert outcome.views_deleted == 1
    assert view(meeting, "u2") is None
    assert attending(meeting, "u1") == ["u1"]


def test_deleting_the_meeting_removes_all_views_and_the_record(meeting: firestore.Client) -> None:
    meeting.document("meetings/m1").delete()
    outcome = deliver(meeting, "meeting", "meetings/m1")
    assert outcome.views_deleted == 3
    assert list(meeting.collection_group("meetingSessions").stream()) == []
    assert not bookkeeping.aggregate_ref(meeting, "MeetingSession", "m1").get().exists


def test_invalid_document_is_recorded_and_leaves_views_alone(meeting: firestore.Client) -> None:
    create_meeting(meeting, "m2", {"u1": False, "u2": False})
    deliver(meeting, "meeting", "meetings/m2")
    before = view(meeting, "u1")
    meeting.document("meetings/m1/tickets/u3").update({"attendance": "yes"})
    outcome = deliver(meeting, "ticket", "meetings/m1/tickets/u3", event_id="bad-1")
    assert outcome.status == "applied" and [e.path for e in outcome.invalid] == [
        "meetings/m1/tickets/u3"
    ]
    assert view(meeting, "u1") == before
    errors = [doc.to_dict() for doc in meeting.collection(bookkeeping.ERRORS).stream()]
    assert [(e["sourcePath"], e["fields"], e["eventId"]) for e in errors] == [
        ("meetings/m1/tickets/u3", ["attendance"], "bad-1")
    ]
    # The event is marked processed (no crash loop) and other meetings keep updating.
    assert (
        deliver(meeting, "ticket", "meetings/m1/tickets/u3", event_id="bad-1").status == "duplicate"
    )
    meeting.document("meetings/m2/tickets/u2").update({"attendance": True})
    deliver(meeting, "ticket", "meetings/m2/tickets/u2")
    assert attending(meeting, "u1", "m2") == ["u2"]
    # Fixing the document brings the views back in step.
    meeting.document("meetings/m1/tickets/u3").update({"attendance": True})
    deliver(meeting, "ticket", "meetings/m1/tickets/u3")
    assert attending(meeting, "u1") == ["u1", "u2", "u3"]


def test_a_rebuild_racing_the_roots_deletion_does_not_resurrect_views(
    firestore: firestore.Client,
) -> None:
    """A cold rebuild reads the meeting, the meeting is deleted (its event finds no record and
    nothing to do), then the rebuild commits: it must notice and remove what it wrote."""
    create_meeting(firestore)
    raced = []
    # The deletion runs as if on another instance: events do not take turns.
    other_instance = Options(serialize_local_events=False)

    def delete_meeting_meanwhile(step: str, outcome: Outcome) -> None:
        if step == "after_read" and outcome.event_id == "late-ticket" and not raced:
            raced.append(step)
            firestore.document("meetings/m1").delete()
            deletion = deliver(
                firestore, "meeting", "meetings/m1", event_id="deletion", options=other_instance
            )
            assert deletion.views_deleted == 0

    racing = Options(serialize_local_events=False, faults=delete_meeting_meanwhile)
    outcome = deliver(
        firestore, "ticket", "meetings/m1/tickets/u1", event_id="late-ticket", options=racing
    )
    assert raced and outcome.views_written == 3 and outcome.views_deleted == 3
    assert list(firestore.collection_group("meetingSessions").stream()) == []
    assert not bookkeeping.aggregate_ref(firestore, "MeetingSession", "m1").get().exists
    assert outcome.status == "applied"


def test_a_lost_race_covered_by_the_winners_commit_stops_without_writing(
    meeting: firestore.Client,
) -> None:
    """Three toggles race as three instances. A loses to B, and A's retry reads the other
    tickets again with the record, so its commit covers C's change too; C, which read before
    that commit and lost to it, finds its ticket already shown and stops: no second commit."""
    db = meeting
    for uid in ("u1", "u2", "u3"):
        db.document(f"meetings/m1/tickets/{uid}").update({"attendance": uid == "u3"})  # all flip
    c_read, a_retried = threading.Event(), threading.Event()
    outcomes: dict[str, Outcome] = {}

    def run(event_id: str, uid: str, options: Options) -> None:
        outcomes[event_id] = deliver(db, "ticket", f"meetings/m1/tickets/{uid}", event_id, options)

    def hook_c(step: str, outcome: Outcome) -> None:
        if step == "after_read" and outcome.attempts == 1:
            c_read.set()
            assert a_retried.wait(30), "A's retry never committed"

    def hook_a(step: str, outcome: Outcome) -> None:
        if step == "after_read" and outcome.attempts == 1:
            run("B", "u2", Options(serialize_local_events=False))  # wins the first race
            threading.Thread(target=run, args=("C", "u3", racing(hook_c))).start()
            assert c_read.wait(30), "C never read"
        if step == "after_commit" and outcome.attempts == 2:
            a_retried.set()

    def racing(hook: Any) -> Options:
        return Options(serialize_local_events=False, faults=hook)

    run("A", "u1", racing(hook_a))
    assert wait_until(lambda: "C" in outcomes, timeout=30)
    a, b, c = outcomes["A"], outcomes["B"], outcomes["C"]
    assert (a.status, a.attempts, a.commits) == ("applied", 2, 1)
    assert (b.status, b.commits) == ("applied", 1)
    assert (c.status, c.covered, c.attempts, c.commits) == ("unchanged", True, 2, 0)
    assert attending(db, "u1") == ["u3"]
    assert stored_views(MeetingSession, db) == expected_views(MeetingSession, db)
