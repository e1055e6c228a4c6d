"""Demo data for the local stack: three people, two locations, nine meetings.

The kickoff at hq is in session (alice hosts; alice and bob attend). Around it: meetings not
started yet (one unscheduled), one closed, and one in session at the annex, so every view has
something to show: each person's meeting views, their agenda (alice's lists seven meetings)
and both location boards (counts, attendance in session, the next meetings).

Run against the emulators (``./dev up`` does it for you)::

    FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 python -m meeting_room.seed
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from google.cloud import firestore

from .domain import Location, Meeting, MeetingStatus, Ticket, User

USERS = {
    "alice": User(
        first_name="Alice", last_name="Ng", organization="Acme", hearing_aid_requested=False
    ),
    "bob": User(
        first_name="Bob", last_name="Okafor", organization="Acme", hearing_aid_requested=True
    ),
    "carol": User(
        first_name="Carol", last_name="Silva", organization="Globex", hearing_aid_requested=False
    ),
}
LOCATION_ID = "hq"
ANNEX_ID = "annex"
LOCATIONS = {
    LOCATION_ID: Location(
        address="1 Market St, San Francisco", latitude=37.7936, longitude=-122.3958
    ),
    ANNEX_ID: Location(address="55 Harrison St, Oakland", latitude=37.7955, longitude=-122.2799),
}
MEETING_ID = "kickoff"


@dataclass(frozen=True)
class DemoMeeting:
    title: str
    location_id: str
    status: MeetingStatus
    starts_in: dt.timedelta | None  # from the seed's hour; None: not scheduled
    attendance: dict[str, bool]  # participant -> attendance; the first one hosts


HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
EVERYONE = list(USERS)
MEETINGS = {
    MEETING_ID: DemoMeeting(
        "Project kickoff",
        LOCATION_ID,
        "in-session",
        -HOUR,
        {"alice": True, "bob": True, "carol": False},
    ),
    "standup": DemoMeeting(
        "Team standup", LOCATION_ID, "not-started", 2 * HOUR, dict.fromkeys(EVERYONE, False)
    ),
    "design-review": DemoMeeting(
        "Design review", LOCATION_ID, "not-started", DAY, {"alice": False, "bob": False}
    ),
    "one-on-one": DemoMeeting(
        "Alice / Carol 1:1",
        LOCATION_ID,
        "not-started",
        DAY + 4 * HOUR,
        {"alice": False, "carol": False},
    ),
    "all-hands": DemoMeeting(
        "All hands", LOCATION_ID, "not-started", 7 * DAY, dict.fromkeys(EVERYONE, False)
    ),
    "retro": DemoMeeting(
        "Sprint retro", LOCATION_ID, "closed", -DAY, {"alice": True, "bob": True, "carol": False}
    ),
    "workshop": DemoMeeting(
        "Customer workshop", ANNEX_ID, "in-session", -HOUR / 2, {"bob": True, "carol": True}
    ),
    "budget": DemoMeeting(
        "Budget planning", ANNEX_ID, "not-started", 3 * DAY, {"alice": False, "carol": False}
    ),
    "offsite": DemoMeeting(
        "Offsite ideas", ANNEX_ID, "not-started", None, {"alice": False, "bob": False}
    ),
}


def seed(client: firestore.Client, now: dt.datetime | None = None) -> list[str]:
    """Write the demo domain documents; the triggers build the views. Returns the paths written.

    Start times are relative to ``now`` (default: the current time), rounded down to the hour.
    """
    hour = (now or dt.datetime.now(dt.UTC)).replace(minute=0, second=0, microsecond=0)
    writes: dict[str, firestore.DocumentReference] = {}
    batch = client.batch()

    def put(path: str, model: User | Location | Meeting | Ticket) -> None:
        ref = client.document(path)
        fields = model.to_firestore()
        if fields.get("startsAt", ...) is None:
            del fields["startsAt"]  # the data contract: absent, not null, when not scheduled
        batch.set(ref, fields)
        writes[path] = ref

    for uid, user in USERS.items():
        put(User.path_template().format(uid=uid), user)
    for location_id, location in LOCATIONS.items():
        put(Location.path_template().format(locationId=location_id), location)
    for meeting_id, demo in MEETINGS.items():
        meeting = Meeting(
            title=demo.title,
            location_id=demo.location_id,
            status=demo.status,
            participant_ids=list(demo.attendance),
            starts_at=None if demo.starts_in is None else hour + demo.starts_in,
        )
        put(Meeting.path_template().format(meetingId=meeting_id), meeting)
        host = next(iter(demo.attendance))
        for uid, attendance in demo.attendance.items():
            ticket = Ticket(role="host" if uid == host else "participant", attendance=attendance)
            put(Ticket.path_template().format(meetingId=meeting_id, uid=uid), ticket)
    batch.commit()
    return list(writes)


def main() -> None:
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        raise SystemExit(
            "FIRESTORE_EMULATOR_HOST is not set: seed only the local emulators "
            "(run `./dev up`, or `./dev exec -- python -m meeting_room.seed`)."
        )
    project = (
        os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT") or "demo-boiler"
    )
    paths = seed(firestore.Client(project=project))
    print(
        f"seeded {len(paths)} documents ({len(USERS)} users, {len(LOCATIONS)} locations, "
        f"{len(MEETINGS)} meetings); the triggers build users/<uid>/meetingSessions/"
        f"<meetingId>, agendas/<uid> and locationBoards/<locationId> "
        f"({', '.join(LOCATIONS)})"
    )


if __name__ == "__main__":
    main()
