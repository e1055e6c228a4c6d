"""Demo data for the local stack: three people, one location, one meeting in session.

Run against the emulators (``./dev up`` does it for you)::

    FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 python -m meeting_room.seed
"""

from __future__ import annotations

import os

from google.cloud import firestore

from .domain import Location, Meeting, Ticket, User

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
MEETING_ID = "kickoff"


def seed(client: firestore.Client) -> list[str]:
    """Write the demo domain documents; the triggers build the views. Returns the paths written."""
    writes: dict[str, firestore.DocumentReference] = {}
    batch = client.batch()

    def put(path: str, model: User | Location | Meeting | Ticket) -> None:
        ref = client.document(path)
        batch.set(ref, model.to_firestore())
        writes[path] = ref

    for uid, user in USERS.items():
        put(User.path_template().format(uid=uid), user)
    put(
        Location.path_template().format(locationId=LOCATION_ID),
        Location(address="1 Market St, San Francisco", latitude=37.7936, longitude=-122.3958),
    )
    put(
        Meeting.path_template().format(meetingId=MEETING_ID),
        Meeting(
            title="Project kickoff",
            location_id=LOCATION_ID,
            status="in-session",
            participant_ids=list(USERS),
        ),
    )
    for uid in USERS:
        ticket = Ticket(role="host" if uid == "alice" else "participant", attendance=uid != "carol")
        put(Ticket.path_template().format(meetingId=MEETING_ID, uid=uid), ticket)
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
        f"seeded {len(paths)} documents; views appear at users/<uid>/meetingSessions/{MEETING_ID}"
    )


if __name__ == "__main__":
    main()
