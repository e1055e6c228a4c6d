"""Meeting-room domain data for tests, written the way a client or admin script would."""

from __future__ import annotations

import json
import re
from pathlib import Path
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


# The line a view trigger's invocation logs last, with its outcome (TriggerPipeline._finish).
_FINISHED = re.compile(r'"message": "boiler\.(applied|unchanged|duplicate|pending)"')


def logged_outcomes(log: Path, start: int = 0) -> list[dict[str, Any]]:
    """The outcome of every view trigger invocation the functions emulator logged after byte
    ``start`` of its log, in the order they finished (function, eventId, document, status, ...)."""
    with open(log, "rb") as file:
        file.seek(start)
        lines = file.read().decode(errors="replace").splitlines()
    return [
        json.loads(line[line.index("{") :])
        for line in lines
        if _FINISHED.search(line) and line.rstrip().endswith("}")  # a whole line only
    ]
