"""The hand-written baseline for the list views: recompute on every change.

On a meeting change, each view it may affect is rebuilt from scratch from the domain documents:
the location board (``locationBoards/{locationId}``) from every meeting of the location (and the
attending tickets of those in session), the agenda (``agendas/{uid}``) from every meeting of the
user (and the locations of the meetings it lists). Plain reads, one ``set`` per view, no
transaction, no ledger. Same documents as boiler's ``LocationBoard`` and ``Agenda``.

Not imported by ``main.py`` (so the freshness and cold-start baselines stay as they were); the
list benchmark (``bench/lists.py``) calls ``board_on_meeting`` / ``agenda_on_meeting`` in-process.
Only meeting changes are handled (what the benchmark measures): a ticket toggle, a new address
or a deleted user would need their own triggers doing the same recomputation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from firebase_functions import firestore_fn
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

AGENDA_SIZE = 50
BOARD_NEXT = 3
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)

_db: firestore.Client | None = None


def db() -> firestore.Client:
    global _db
    if _db is None:
        _db = firestore.Client()
    return _db


def by_start(meeting: firestore.DocumentSnapshot) -> tuple[Any, ...]:
    """startsAt ascending, unscheduled last, ties by meeting id."""
    starts = (meeting.to_dict() or {}).get("startsAt")
    return (starts is None, starts or _EPOCH, meeting.id)


def rebuild_location_board(client: firestore.Client, location_id: str) -> None:
    """Read the location, all its meetings and the attending tickets of those in session."""
    board = client.document(f"locationBoards/{location_id}")
    location = client.document(f"locations/{location_id}").get()
    if not location.exists:
        board.delete()
        return
    meetings = sorted(
        client.collection("meetings")
        .where(filter=FieldFilter("locationId", "==", location_id))
        .stream(),
        key=by_start,
    )
    status = {m.id: (m.to_dict() or {}).get("status", "not-started") for m in meetings}
    in_session = [m for m in meetings if status[m.id] == "in-session"]
    attending = 0
    for meeting in in_session:
        tickets = meeting.reference.collection("tickets")
        attending += sum(
            1 for _ in tickets.where(filter=FieldFilter("attendance", "==", True)).stream()
        )
    upcoming = [m for m in meetings if status[m.id] == "not-started"][:BOARD_NEXT]
    board.set(
        {
            "locationId": location_id,
            "address": (location.to_dict() or {})["address"],
            "meetingsTotal": len(meetings),
            "meetingsInSession": len(in_session),
            "attendingInSession": attending,
            "next": [
                {
                    "meetingId": m.id,
                    "title": (m.to_dict() or {})["title"],
                    "startsAt": (m.to_dict() or {}).get("startsAt"),
                }
                for m in upcoming
            ],
        }
    )


def rebuild_agenda(client: firestore.Client, uid: str) -> None:
    """Read the user, all their meetings and the locations of the first AGENDA_SIZE."""
    agenda = client.document(f"agendas/{uid}")
    if not client.document(f"users/{uid}").get().exists:
        agenda.delete()
        return
    meetings = sorted(
        (
            m
            for m in client.collection("meetings")
            .where(filter=FieldFilter("participantIds", "array_contains", uid))
            .stream()
            if (m.to_dict() or {}).get("status", "not-started") != "closed"
        ),
        key=by_start,
    )
    listed = [m.to_dict() or {} for m in meetings[:AGENDA_SIZE]]
    location_ids = sorted({m["locationId"] for m in listed if m.get("locationId")})
    addresses = {
        snap.id: (snap.to_dict() or {}).get("address")
        for snap in client.get_all([client.document(f"locations/{lid}") for lid in location_ids])
        if snap.exists
    }
    agenda.set(
        {
            "uid": uid,
            "meetings": [
                {
                    "meetingId": m.id,
                    "title": data["title"],
                    "status": data.get("status", "not-started"),
                    "startsAt": data.get("startsAt"),
                    "address": addresses.get(data.get("locationId", "")),
                }
                for m, data in zip(meetings, listed, strict=False)
            ],
            "numUpcoming": len(meetings),
        }
    )


def _changed(
    before: dict[str, Any] | None, after: dict[str, Any] | None, field: str, many: bool
) -> list[str]:
    values: set[str] = set()
    for data in (before, after):
        value = (data or {}).get(field)
        if many:
            values.update(value or [])
        elif value:
            values.add(value)
    return sorted(values)


def board_on_meeting(
    client: firestore.Client, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """A meeting changed: rebuild the boards of its old and new location."""
    for location_id in _changed(before, after, "locationId", many=False):
        rebuild_location_board(client, location_id)


def agenda_on_meeting(
    client: firestore.Client, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """A meeting changed: rebuild the agendas of its old and new participants."""
    for uid in _changed(before, after, "participantIds", many=True):
        rebuild_agenda(client, uid)


def _data(snapshot: Any) -> dict[str, Any] | None:
    return snapshot.to_dict() if snapshot is not None and snapshot.exists else None


@firestore_fn.on_document_written(document="meetings/{meetingId}")
def baseline_board_on_meeting(event: firestore_fn.Event[Any]) -> None:
    board_on_meeting(db(), _data(event.data.before), _data(event.data.after))


@firestore_fn.on_document_written(document="meetings/{meetingId}")
def baseline_agenda_on_meeting(event: firestore_fn.Event[Any]) -> None:
    agenda_on_meeting(db(), _data(event.data.before), _data(event.data.after))
