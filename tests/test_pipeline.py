"""The trigger pipeline in-process against the real Firestore emulator."""

from __future__ import annotations

import uuid

import pytest
from boiler import compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.options import Options
from boiler.runtime.pipeline import Outcome, Pipeline
from google.cloud import firestore
from meeting_room import app

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
    ledger = bookkeeping.ledger_ref(meeting, "meeting_session_on_ticket", "evt-1").get()
    assert ledger.get("outcome") == "applied"
    assert ledger.get(bookkeeping.TTL_FIELD) is not None


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
    assert (
        bookkeeping.ledger_ref(firestore, "meeting_session_on_ticket", "late-ticket").get().exists
    )
