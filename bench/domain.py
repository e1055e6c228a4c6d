"""Meeting-room data for the benchmarks, and the from-scratch truth views are checked against."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boiler.testing import oracle
from google.cloud import firestore
from meeting_room import MeetingSession


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


def wrong_views(client: firestore.Client) -> dict[str, int]:
    """Views that differ from the from-scratch build (the oracle): wrong, missing, left over."""
    return oracle.wrong_views(MeetingSession, client)


def bad_count(check: dict[str, int]) -> int:
    return check["wrong"] + check["missing"] + check["extra"]
