"""Meeting-room data for the benchmarks, and the from-scratch truth views are checked against."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from google.cloud import firestore
from meeting_room import Location, Meeting, MeetingSession, Ticket, User
from meeting_room.views import MeetingData

VIEW_COLLECTION = "meetingSessions"


def uid(index: int) -> str:
    return f"u{index:05d}"


def user_doc(index: int) -> dict[str, Any]:
    return {
        "firstName": f"First{index}",
        "lastName": f"Last{index}",
        "organization": ("Acme", "Globex", "Initech")[index % 3],
        "hearingAidRequested": index % 4 == 0,
    }


LOCATION = {"address": "1 Market St", "latitude": 37.79, "longitude": -122.39}


def commit_in_batches(
    client: firestore.Client, writes: Iterable[tuple[str, dict[str, Any]]]
) -> int:
    """Plain set() of many documents, 450 per commit; returns how many were written."""
    batch, count, total = client.batch(), 0, 0
    for path, data in writes:
        batch.set(client.document(path), data)
        count += 1
        if count == 450:
            batch.commit()
            total += count
            batch, count = client.batch(), 0
    if count:
        batch.commit()
        total += count
    return total


def meeting_writes(
    meeting_id: str, participants: list[str], location_id: str = "l1", attending: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    """The meeting and one ticket per participant (users and location are written separately)."""
    writes: list[tuple[str, dict[str, Any]]] = [
        (
            f"meetings/{meeting_id}",
            {
                "title": f"Meeting {meeting_id}",
                "locationId": location_id,
                "status": "in-session",
                "participantIds": participants,
            },
        )
    ]
    for position, participant in enumerate(participants):
        role = "host" if position == 0 else "participant"
        writes.append(
            (
                f"meetings/{meeting_id}/tickets/{participant}",
                {"role": role, "attendance": attending},
            )
        )
    return writes


def seed_meeting(
    client: firestore.Client, meeting_id: str, size: int, location_id: str = "l1"
) -> list[str]:
    """Users u00000.., a location, one meeting where everyone attends; returns participant ids."""
    participants = [uid(i) for i in range(size)]
    writes = [(f"users/{p}", user_doc(i)) for i, p in enumerate(participants)]
    writes.append((f"locations/{location_id}", LOCATION))
    writes += meeting_writes(meeting_id, participants, location_id)
    commit_in_batches(client, writes)
    return participants


# -- truth -------------------------------------------------------------------------------------


def expected_views(client: firestore.Client) -> dict[str, dict[str, Any]]:
    """Every view a from-scratch build of the current domain gives, by path (four queries)."""
    users = {
        s.id: User.from_firestore(s.reference.path, s.to_dict())
        for s in client.collection("users").stream()
    }
    locations = {
        s.id: Location.from_firestore(s.reference.path, s.to_dict())
        for s in client.collection("locations").stream()
    }
    tickets: dict[str, dict[str, Ticket]] = defaultdict(dict)
    for snap in client.collection_group("tickets").stream():
        meeting_id = snap.reference.parent.parent.id
        tickets[meeting_id][snap.id] = Ticket.from_firestore(snap.reference.path, snap.to_dict())
    views: dict[str, dict[str, Any]] = {}
    for snap in client.collection("meetings").stream():
        meeting = Meeting.from_firestore(snap.reference.path, snap.to_dict())
        data = MeetingData(
            snap.id,
            meeting=meeting,
            location=locations.get(meeting.location_id),
            tickets=tickets.get(snap.id, {}),
            participants={p: users[p] for p in meeting.participant_ids if p in users},
        )
        views.update(
            {path: view.to_firestore() for path, view in MeetingSession.build_paths(data).items()}
        )
    return views


def actual_views(client: firestore.Client) -> dict[str, dict[str, Any]]:
    return {
        s.reference.path: s.to_dict() for s in client.collection_group(VIEW_COLLECTION).stream()
    }


def wrong_views(client: firestore.Client) -> dict[str, int]:
    """Views that differ from the from-scratch build: wrong content, missing, or left over."""
    expected, actual = expected_views(client), actual_views(client)
    return {
        "views": len(expected),
        "wrong": sum(
            1 for path in expected.keys() & actual.keys() if expected[path] != actual[path]
        ),
        "missing": len(expected.keys() - actual.keys()),
        "extra": len(actual.keys() - expected.keys()),
    }


def bad_count(check: dict[str, int]) -> int:
    return check["wrong"] + check["missing"] + check["extra"]
