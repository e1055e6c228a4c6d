"""The meeting-room view computed from loaded sources (pure: no Firestore involved)."""

from __future__ import annotations

from meeting_room.domain import Location, Meeting, Ticket, User
from meeting_room.views import MeetingData, MeetingSession


def _data(**overrides: object) -> MeetingData:
    loaded: dict[str, object] = {
        "meeting": Meeting(
            title="Standup",
            location_id="l1",
            status="in-session",
            participant_ids=["u2", "u1", "u3"],
        ),
        "location": Location(address="1 Main St", latitude=1.5, longitude=-2.5),
        "tickets": {
            "u1": Ticket(role="host", attendance=True),
            "u2": Ticket(attendance=True),
            "u3": Ticket(attendance=False),
        },
        "participants": {
            "u1": User(
                first_name="Ann", last_name="Lee", organization="Acme", hearing_aid_requested=True
            ),
            "u2": User(first_name="Bo", last_name="Ma", organization="Initech"),
            "u3": User(
                first_name="Cy", last_name="No", organization="Acme", hearing_aid_requested=True
            ),
        },
    }
    loaded.update(overrides)
    return MeetingData("m1", **loaded)


def test_one_view_per_participant_with_the_data_contract_fields() -> None:
    views = MeetingSession.build_paths(_data())
    assert sorted(views) == [f"users/{uid}/meetingSessions/m1" for uid in ("u1", "u2", "u3")]
    document = views["users/u3/meetingSessions/m1"].to_firestore()
    assert document == {
        "meetingId": "m1",
        "title": "Standup",
        "address": "1 Main St",
        "latitude": 1.5,
        "longitude": -2.5,
        "inSession": True,
        "attending": [
            {"uid": "u1", "name": "Ann Lee", "organization": "Acme", "hearingAidRequested": True},
            {"uid": "u2", "name": "Bo Ma", "organization": "Initech", "hearingAidRequested": False},
        ],
        "numAttending": 2,
        "numHearingAidRequested": 1,
    }


def test_attending_needs_a_ticket_with_attendance() -> None:
    views = MeetingSession.build_paths(_data(tickets={"u3": Ticket(attendance=True)}))
    view = views["users/u1/meetingSessions/m1"]
    assert [a.uid for a in view.attending] == ["u3"]
    assert (view.num_attending, view.num_hearing_aid_requested) == (1, 1)


def test_missing_location_and_status_not_in_session() -> None:
    meeting = Meeting(title="Later", location_id="gone", status="closed", participant_ids=["u1"])
    view = MeetingSession.build_paths(_data(meeting=meeting, location=None))[
        "users/u1/meetingSessions/m1"
    ]
    assert (view.address, view.latitude, view.longitude, view.in_session) == (
        None,
        None,
        None,
        False,
    )


def test_no_participants_no_views() -> None:
    meeting = Meeting(title="Empty", location_id="l1", participant_ids=[])
    assert MeetingSession.build_paths(_data(meeting=meeting)) == {}
