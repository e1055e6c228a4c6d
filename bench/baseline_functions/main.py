"""The hand-written baseline: the meeting-room view built the most direct way.

Plain reads, one batched ``set`` per view, no transaction, no idempotency ledger, no
precondition. It writes the same documents (``users/{uid}/meetingSessions/{meetingId}``) as
boiler, so the benchmark can compare speed and cost. What it lacks: a duplicate or late
event, or two concurrent invocations, can leave a view out of step with the domain.
"""

from __future__ import annotations

from typing import Any

from firebase_functions import firestore_fn
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

_db: firestore.Client | None = None


def db() -> firestore.Client:
    """One client per process, created on first use."""
    global _db
    if _db is None:
        _db = firestore.Client()
    return _db


def use_client(client: firestore.Client | None) -> None:
    """Benchmarks inject an instrumented client."""
    global _db
    _db = client


def view_of(
    meeting_id: str,
    meeting: dict[str, Any],
    location: dict[str, Any] | None,
    tickets: dict[str, dict[str, Any]],
    users: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The meetingSessions document every participant of the meeting sees."""
    attending = [
        {
            "uid": uid,
            "name": f"{user['firstName']} {user['lastName']}",
            "organization": user["organization"],
            "hearingAidRequested": user.get("hearingAidRequested", False),
        }
        for uid, user in sorted(users.items())
        if tickets.get(uid, {}).get("attendance", False)
    ]
    return {
        "meetingId": meeting_id,
        "title": meeting["title"],
        "address": location["address"] if location else None,
        "latitude": location["latitude"] if location else None,
        "longitude": location["longitude"] if location else None,
        "inSession": meeting.get("status", "not-started") == "in-session",
        "attending": attending,
        "numAttending": len(attending),
        "numHearingAidRequested": sum(a["hearingAidRequested"] for a in attending),
    }


def rebuild(client: firestore.Client, meeting: firestore.DocumentSnapshot) -> int:
    """Read what the meeting's view needs, overwrite every participant's copy; returns the count."""
    data = meeting.to_dict() or {}
    participant_ids = list(dict.fromkeys(data.get("participantIds", [])))
    location = None
    if data.get("locationId"):
        location = client.document(f"locations/{data['locationId']}").get().to_dict()
    tickets = {snap.id: snap.to_dict() for snap in meeting.reference.collection("tickets").stream()}
    users = {
        snap.id: snap.to_dict()
        for snap in client.get_all([client.document(f"users/{uid}") for uid in participant_ids])
        if snap.exists
    }
    view = view_of(meeting.id, data, location, tickets, users)
    for start in range(0, len(participant_ids), 500):
        batch = client.batch()
        for uid in participant_ids[start : start + 500]:
            batch.set(client.document(f"users/{uid}/meetingSessions/{meeting.id}"), view)
        batch.commit()
    return len(participant_ids)


def rebuild_meeting(client: firestore.Client, meeting_id: str) -> int:
    meeting = client.document(f"meetings/{meeting_id}").get()
    return rebuild(client, meeting) if meeting.exists else 0


def rebuild_where(client: firestore.Client, field: str, op: str, value: str) -> int:
    query = client.collection("meetings").where(filter=FieldFilter(field, op, value))
    return sum(rebuild(client, meeting) for meeting in query.stream())


@firestore_fn.on_document_written(document="meetings/{meetingId}/tickets/{uid}")
def baseline_on_ticket(event: firestore_fn.Event[Any]) -> None:
    rebuild_meeting(db(), event.params["meetingId"])


@firestore_fn.on_document_written(document="meetings/{meetingId}")
def baseline_on_meeting(event: firestore_fn.Event[Any]) -> None:
    meeting_id = event.params["meetingId"]
    before = event.data.before.to_dict() if event.data.before else None
    after = event.data.after.to_dict() if event.data.after else None
    removed = set((before or {}).get("participantIds", [])) - set(
        (after or {}).get("participantIds", [])
    )
    client = db()
    for uid in removed:
        client.document(f"users/{uid}/meetingSessions/{meeting_id}").delete()
    if after is not None:
        rebuild_meeting(client, meeting_id)


@firestore_fn.on_document_written(document="users/{uid}")
def baseline_on_user(event: firestore_fn.Event[Any]) -> None:
    rebuild_where(db(), "participantIds", "array_contains", event.params["uid"])


@firestore_fn.on_document_written(document="locations/{locationId}")
def baseline_on_location(event: firestore_fn.Event[Any]) -> None:
    rebuild_where(db(), "locationId", "==", event.params["locationId"])
