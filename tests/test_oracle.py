"""The oracle (boiler.testing.oracle) against the pipeline, on the real emulator: it agrees on
healthy aggregates, and it names the aggregates an invalid source holds back."""

from __future__ import annotations

import uuid

import pytest
from boiler import compile_app
from boiler.errors import InvalidDocument
from boiler.runtime.pipeline import Pipeline
from boiler.testing.oracle import expected_views, first_divergence, stored_views, wrong_views
from google.cloud import firestore
from meeting_room import MeetingSession, app

from .meeting_fixtures import PEOPLE, create_meeting

BUILD = compile_app(app)


def build_meetings(db: firestore.Client, *meeting_ids: str) -> None:
    trigger = BUILD.trigger("meeting_session_on_meeting")
    for meeting_id in meeting_ids:
        Pipeline(trigger, client=db).handle(uuid.uuid4().hex, f"meetings/{meeting_id}")


def test_the_oracle_agrees_with_the_pipeline_and_sees_drift(firestore: firestore.Client) -> None:
    create_meeting(firestore, "m1")
    create_meeting(firestore, "m2", {"u1": True, "u3": True}, location_id="gone")
    firestore.document("locations/gone").delete()
    build_meetings(firestore, "m1", "m2")
    expected = expected_views(MeetingSession, firestore)
    assert (
        len(expected) == 5
        and first_divergence(expected, stored_views(MeetingSession, firestore)) is None
    )
    assert expected["users/u3/meetingSessions/m2"]["address"] is None  # a join to nothing
    firestore.document("users/u1/meetingSessions/m1").delete()
    firestore.document("users/u9/meetingSessions/m1").set({"title": "stray"})
    firestore.document("users/u2").update({"firstName": "Renamed"})  # no event delivered
    assert wrong_views(MeetingSession, firestore) == {
        "views": 5,
        "wrong": 2,
        "missing": 1,
        "extra": 1,
    }


@pytest.mark.parametrize(
    "path, fields",
    [
        ("users/u2", {**PEOPLE["u2"], "organization": 3}),
        ("meetings/m1", {"participantIds": ["a/b"]}),
    ],
)
def test_an_invalid_source_holds_its_aggregate_back(
    firestore: firestore.Client, path: str, fields: dict[str, object]
) -> None:
    create_meeting(firestore, "m1")
    create_meeting(firestore, "m2", {"u1": True})
    firestore.document(path).update(fields)
    with pytest.raises(InvalidDocument):
        expected_views(MeetingSession, firestore)
    held: set[str] = set()
    expected = expected_views(MeetingSession, firestore, held=held)
    assert held == {"m1"} and sorted(expected) == ["users/u1/meetingSessions/m2"]
