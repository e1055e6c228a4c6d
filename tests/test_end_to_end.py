"""The meeting-room views kept in step by the real triggers in the functions emulator.

Only domain documents are written here, as a client or admin would; every view is built by
functions/main.py running in firebase-tools' functions emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from boiler.runtime import bookkeeping
from boiler.testing import wait_until
from google.cloud import firestore

from .meeting_fixtures import attending, create_meeting, logged_outcomes, view

TIMEOUT = 60  # cold Python workers start on their first event, about 0.5 s each


class Domain:
    """Writes domain documents and counts them: a test can wait until all events are processed."""

    def __init__(self, db: firestore.Client, log: Path) -> None:
        self.db = db
        self.writes = 0
        self.log = log
        self.log_start = log.stat().st_size if log.exists() else 0

    def set(self, path: str, data: dict[str, Any]) -> None:
        self.db.document(path).set(data)
        self.writes += 1

    def update(self, path: str, data: dict[str, Any]) -> None:
        self.db.document(path).update(data)
        self.writes += 1

    def delete(self, path: str) -> None:
        self.db.document(path).delete()
        self.writes += 1

    def meeting(self, meeting_id: str, participants: dict[str, bool]) -> None:
        create_meeting(self.db, meeting_id, participants)
        self.writes += 2 * len(participants) + 2  # users, tickets, location, meeting

    def settled(self) -> None:
        """Every write so far has been processed by its MeetingSession trigger: each
        invocation logs one line with its outcome (the app's other views log their own)."""

        wait_until(
            lambda: len(self.finished()) >= self.writes,
            timeout=TIMEOUT,
            message=f"{self.writes} events processed",
        )

    def finished(self) -> list[dict[str, Any]]:
        """The MeetingSession triggers' logged outcomes since this domain was made."""
        return [
            outcome
            for outcome in logged_outcomes(self.log, self.log_start)
            if outcome["function"].startswith("meeting_session_on_")
        ]

    def outcomes(self, event_id: str) -> list[str]:
        """The status of every finished invocation for ``event_id`` so far, in order."""
        return [o["status"] for o in self.finished() if o["eventId"] == event_id]


@pytest.fixture
def domain(suite_firestore: firestore.Client, emulator_suite: Any) -> Domain:
    domain = Domain(suite_firestore, emulator_suite.log_path)
    domain.meeting("m1", {"u1": True, "u2": True, "u3": False})
    return domain


def views_equal(
    db: firestore.Client, uids: list[str], predicate: Any, meeting_id: str = "m1"
) -> bool:
    return all(predicate(view(db, uid, meeting_id)) for uid in uids)


def test_meeting_creation_builds_one_view_per_participant(domain: Domain) -> None:
    db = domain.db
    expected = {
        "meetingId": "m1",
        "title": "Meeting m1",
        "address": "1 Main St",
        "latitude": 52.5,
        "longitude": 13.4,
        "inSession": True,
        "attending": [
            {"uid": "u1", "name": "Ann Lee", "organization": "Acme", "hearingAidRequested": False},
            {"uid": "u2", "name": "Bo Ma", "organization": "Initech", "hearingAidRequested": True},
        ],
        "numAttending": 2,
        "numHearingAidRequested": 1,
    }
    wait_until(
        lambda: views_equal(db, ["u1", "u2", "u3"], lambda v: v == expected), timeout=TIMEOUT
    )
    domain.settled()
    sessions = sorted(doc.reference.path for doc in db.collection_group("meetingSessions").stream())
    assert sessions == [f"users/{uid}/meetingSessions/m1" for uid in ("u1", "u2", "u3")]
    assert views_equal(db, ["u1", "u2", "u3"], lambda v: v == expected)


def test_attendance_toggle_updates_every_participant(domain: Domain) -> None:
    domain.settled()
    domain.update("meetings/m1/tickets/u3", {"attendance": True})
    wait_until(
        lambda: views_equal(domain.db, ["u1", "u2", "u3"], lambda v: v["numAttending"] == 3),
        timeout=TIMEOUT,
    )
    domain.settled()
    assert attending(domain.db, "u2") == ["u1", "u2", "u3"]


def test_rename_updates_every_meeting_view_the_user_appears_in(domain: Domain) -> None:
    domain.meeting("m2", {"u2": True, "u1": True})
    domain.settled()
    domain.update("users/u2", {"firstName": "Bob"})

    def renamed(meeting_id: str, uids: list[str]) -> bool:
        return views_equal(
            domain.db,
            uids,
            lambda v: v and "Bob Ma" in [a["name"] for a in v["attending"]],
            meeting_id,
        )

    wait_until(
        lambda: renamed("m1", ["u1", "u2", "u3"]) and renamed("m2", ["u1", "u2"]), timeout=TIMEOUT
    )
    domain.settled()
    assert renamed("m1", ["u1", "u2", "u3"]) and renamed("m2", ["u1", "u2"])


def test_location_change_updates_the_views(domain: Domain) -> None:
    domain.settled()
    domain.update("locations/l1", {"address": "2 Side St"})
    wait_until(
        lambda: views_equal(domain.db, ["u1", "u2", "u3"], lambda v: v["address"] == "2 Side St"),
        timeout=TIMEOUT,
    )


def test_removed_participant_loses_view_and_entry(domain: Domain) -> None:
    domain.settled()
    domain.update("meetings/m1", {"participantIds": ["u1", "u3"]})
    wait_until(
        lambda: (
            view(domain.db, "u2") is None
            and views_equal(domain.db, ["u1", "u3"], lambda v: v["numAttending"] == 1)
        ),
        timeout=TIMEOUT,
    )
    domain.settled()
    assert view(domain.db, "u2") is None and attending(domain.db, "u3") == ["u1"]


def test_deleting_the_meeting_removes_all_its_views(domain: Domain) -> None:
    domain.settled()
    domain.delete("meetings/m1")
    wait_until(
        lambda: not list(domain.db.collection_group("meetingSessions").stream()), timeout=TIMEOUT
    )
    domain.settled()
    assert not list(domain.db.collection_group("meetingSessions").stream())


def test_malformed_document_is_reported_and_does_not_block_other_meetings(domain: Domain) -> None:
    domain.meeting("m2", {"u1": False, "u2": False})
    domain.settled()
    before = view(domain.db, "u1")
    domain.update("meetings/m1/tickets/u3", {"attendance": "yes"})

    def errors_recorded() -> list[dict[str, Any]]:
        found = [doc.to_dict() for doc in domain.db.collection(bookkeeping.ERRORS).stream()]
        return found if len(found) >= 2 else []

    # Once per view that reads tickets (whichever of its triggers met it first).
    errors = wait_until(errors_recorded, timeout=TIMEOUT)
    assert sorted((e["view"], e["sourcePath"], e["fields"]) for e in errors) == [
        ("MeetingCard", "meetings/m1/tickets/u3", ["attendance"]),
        ("MeetingSession", "meetings/m1/tickets/u3", ["attendance"]),
    ]
    assert errors[0]["eventId"]
    domain.update("meetings/m2/tickets/u2", {"attendance": True})
    wait_until(lambda: attending(domain.db, "u1", "m2") == ["u2"], timeout=TIMEOUT)
    domain.settled()
    assert view(domain.db, "u1") == before


def test_replayed_event_with_the_same_id_changes_nothing(
    domain: Domain, emulator_suite: Any
) -> None:
    from boiler.testing.events import document_written_event, post_to_emulator

    db = domain.db
    domain.update("meetings/m1/tickets/u3", {"attendance": True})
    domain.settled()
    before = {
        uid: db.document(f"users/{uid}/meetingSessions/m1").get().update_time
        for uid in ("u1", "u2", "u3")
    }
    # The platform delivers one event three times (same id, as at-least-once delivery may).
    event = document_written_event(
        "meetings/m1/tickets/u3",
        {"role": "participant", "attendance": False},
        {"role": "participant", "attendance": True},
        event_id="replayed-event-1",
        project=emulator_suite.project_id,
    )
    for delivery in range(1, 4):
        status = post_to_emulator(
            emulator_suite.url("functions"),
            emulator_suite.project_id,
            "us-central1",
            "meeting_session_on_ticket",
            event,
        )
        assert status == 200
        wait_until(
            lambda: len(domain.outcomes("replayed-event-1")) == delivery,  # noqa: B023
            timeout=TIMEOUT,
            message=f"delivery {delivery} of the replayed event processed",
        )
    # The change it describes was applied by the update's own event: every delivery finds it
    # covered, writes nothing, and marks nothing (a record write would be a cost for nothing).
    assert domain.outcomes("replayed-event-1") == ["unchanged"] * 3
    record = bookkeeping.aggregate_ref(db, "MeetingSession", "m1").get()
    mark = bookkeeping.event_mark("meeting_session_on_ticket", "replayed-event-1")
    assert mark not in record.get("applied")
    after = {
        uid: db.document(f"users/{uid}/meetingSessions/m1").get().update_time
        for uid in ("u1", "u2", "u3")
    }
    assert after == before  # the state it describes was already applied: no view rewritten
    assert attending(db, "u1") == ["u1", "u2", "u3"]
