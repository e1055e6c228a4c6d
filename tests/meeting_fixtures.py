"""Meeting-room domain data for tests, written the way a client or admin script would."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

PEOPLE = {
    "u1": {
        "firstName": "Ann",
        "lastName": "Lee",
        "organization": "Acme",
        "hearingAidRequested": False,
    },
    "u2": {
        "firstName": "Bo",
        "lastName": "Ma",
        "organization": "Initech",
        "hearingAidRequested": True,
    },
    "u3": {
        "firstName": "Cy",
        "lastName": "No",
        "organization": "Acme",
        "hearingAidRequested": False,
    },
}


def create_meeting(
    db: firestore.Client,
    meeting_id: str = "m1",
    participants: dict[str, bool] | None = None,
    location_id: str = "l1",
) -> dict[str, Any]:
    """Users, a location, a meeting and one ticket per participant (value: attendance)."""
    participants = (
        participants if participants is not None else {"u1": True, "u2": True, "u3": False}
    )
    for uid in participants:
        db.document(f"users/{uid}").set(PEOPLE.get(uid, {**PEOPLE["u1"], "firstName": uid.upper()}))
    db.document(f"locations/{location_id}").set(
        {"address": "1 Main St", "latitude": 52.5, "longitude": 13.4}
    )
    meeting = {
        "title": f"Meeting {meeting_id}",
        "locationId": location_id,
        "status": "in-session",
        "participantIds": list(participants),
    }
    db.document(f"meetings/{meeting_id}").set(meeting)
    for uid, attending in participants.items():
        role = "host" if uid == next(iter(participants)) else "participant"
        db.document(f"meetings/{meeting_id}/tickets/{uid}").set(
            {"role": role, "attendance": attending}
        )
    return meeting


def view(db: firestore.Client, uid: str, meeting_id: str = "m1") -> dict[str, Any] | None:
    return db.document(f"users/{uid}/meetingSessions/{meeting_id}").get().to_dict()


def attending(db: firestore.Client, uid: str, meeting_id: str = "m1") -> list[str] | None:
    document = view(db, uid, meeting_id)
    return None if document is None else [entry["uid"] for entry in document["attending"]]
