"""Agendas and location boards kept in step by the real triggers in the functions emulator.

Only domain documents are written here; functions/main.py builds the meeting cards, and from
them every agenda (``agendas/{uid}``) and location board (``locationBoards/{locationId}``).
After each change the test waits until the stored lists equal tests/meeting_lists.py's
recomputation from the domain documents, with no work left pending and no error recorded.
The generated rules for the two views are then tried with real client requests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from boiler.runtime import bookkeeping
from boiler.testing import EmulatorSuite, wait_until
from boiler.testing.rest import RestClient
from google.cloud import firestore

from .meeting_lists import expected_lists, stored_lists

TIMEOUT = 60
# The first events start one cold Python worker per function (13 of them, about 0.5 s each
# on an idle machine, several seconds each on a busy one).
COLD_TIMEOUT = 180
T0 = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
pytestmark = pytest.mark.suite


def person(first: str) -> dict[str, Any]:
    return {"firstName": first, "lastName": "Doe", "organization": "Acme"}


def place(address: str) -> dict[str, Any]:
    return {"address": address, "latitude": 52.5, "longitude": 13.4}


def meeting(
    title: str,
    location: str,
    people: list[str],
    status: str = "not-started",
    hours: int | None = 0,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": title,
        "locationId": location,
        "participantIds": people,
        "status": status,
    }
    if hours is not None:  # absent: not scheduled
        fields["startsAt"] = T0 + dt.timedelta(hours=hours)
    return fields


def differences(db: firestore.Client) -> dict[str, tuple[Any, Any]]:
    """Every list document whose stored value is not the recomputed one: (stored, expected)."""
    stored, expected = stored_lists(db), expected_lists(db)
    return {
        path: (stored.get(path), expected.get(path))
        for path in sorted(stored.keys() | expected.keys())
        if stored.get(path) != expected.get(path)
    }


def in_step(db: firestore.Client, after: str, timeout: float = TIMEOUT) -> None:
    """Wait until every agenda and board equals the recomputation and no work is pending;
    then check no error was recorded and the lists still agree."""

    def settled() -> bool:
        pending = list(db.collection(bookkeeping.PENDING).limit(1).stream())
        return not pending and not differences(db)

    try:
        wait_until(settled, timeout=timeout, message=f"lists in step after {after}")
    except AssertionError as error:
        raise AssertionError(f"{error}; differing (stored, expected): {differences(db)}") from None
    errors = [e.to_dict() for e in db.collection(bookkeeping.ERRORS).stream()]
    assert errors == [], errors
    assert differences(db) == {}, after


def agenda(db: firestore.Client, uid: str) -> dict[str, Any] | None:
    return db.document(f"agendas/{uid}").get().to_dict()


def agenda_ids(db: firestore.Client, uid: str) -> list[str]:
    return [entry["meetingId"] for entry in (agenda(db, uid) or {}).get("meetings", [])]


def board(db: firestore.Client, location_id: str) -> dict[str, Any] | None:
    return db.document(f"locationBoards/{location_id}").get().to_dict()


def counts(db: firestore.Client, location_id: str) -> tuple[int, int, int, list[str]]:
    found = board(db, location_id) or {}
    return (
        found.get("meetingsTotal", -1),
        found.get("meetingsInSession", -1),
        found.get("attendingInSession", -1),
        [entry["meetingId"] for entry in found.get("next", [])],
    )


@pytest.fixture
def world(suite_firestore: firestore.Client) -> firestore.Client:
    """Four users, two locations, four meetings (one in session, one unscheduled), in step."""
    db = suite_firestore
    for uid in ("u1", "u2", "u3", "u4"):
        db.document(f"users/{uid}").set(person(uid.upper()))
    db.document("locations/l1").set(place("1 Main St"))
    db.document("locations/l2").set(place("2 Side St"))
    db.document("meetings/m1").set(meeting("Planning", "l1", ["u1", "u2"], hours=3))
    db.document("meetings/m1/tickets/u1").set({"role": "host", "attendance": True})
    db.document("meetings/m1/tickets/u2").set({"role": "participant", "attendance": False})
    db.document("meetings/m2").set(meeting("Review", "l1", ["u1", "u3"], hours=1))
    db.document("meetings/m3").set(meeting("Live", "l1", ["u2", "u3"], "in-session", None))
    db.document("meetings/m3/tickets/u2").set({"role": "host", "attendance": True})
    db.document("meetings/m3/tickets/u3").set({"role": "participant", "attendance": True})
    db.document("meetings/m4").set(meeting("Elsewhere", "l2", ["u1", "u4"], hours=2))
    in_step(db, "the world was created", timeout=COLD_TIMEOUT)
    return db


def test_created_meetings_are_listed_by_start_and_counted_per_location(
    world: firestore.Client,
) -> None:
    db = world
    assert agenda_ids(db, "u1") == ["m2", "m4", "m1"]
    assert agenda_ids(db, "u3") == ["m2", "m3"]  # unscheduled last
    assert (agenda(db, "u1") or {})["numUpcoming"] == 3
    assert agenda(db, "u4") == {
        "uid": "u4",
        "meetings": [
            {
                "meetingId": "m4",
                "title": "Elsewhere",
                "status": "not-started",
                "startsAt": T0 + dt.timedelta(hours=2),
                "address": "2 Side St",
            }
        ],
        "numUpcoming": 1,
    }
    assert counts(db, "l1") == (3, 1, 2, ["m2", "m1"])
    assert counts(db, "l2") == (1, 0, 0, ["m4"])
    db.document("meetings/m5").set(meeting("Someday", "l2", ["u4", "u3"], hours=None))
    in_step(db, "a meeting was created")
    assert agenda_ids(db, "u4") == ["m4", "m5"] and agenda_ids(db, "u3") == ["m2", "m3", "m5"]
    assert counts(db, "l2") == (2, 0, 0, ["m4", "m5"])


def test_retitled_and_rescheduled_meetings_move_in_every_list(world: firestore.Client) -> None:
    db = world
    db.document("meetings/m1").update({"title": "Planning, round 2"})
    in_step(db, "m1 was retitled")
    assert (agenda(db, "u2") or {})["meetings"][0]["title"] == "Planning, round 2"
    assert [e["title"] for e in (board(db, "l1") or {})["next"]] == ["Review", "Planning, round 2"]
    db.document("meetings/m1").update({"startsAt": T0 - dt.timedelta(hours=1)})
    in_step(db, "m1 was moved earlier")
    assert agenda_ids(db, "u1") == ["m1", "m2", "m4"]
    assert counts(db, "l1")[3] == ["m1", "m2"]
    db.document("meetings/m1").update({"startsAt": firestore.DELETE_FIELD})
    in_step(db, "m1 was unscheduled")
    assert agenda_ids(db, "u1") == ["m2", "m4", "m1"]
    assert (agenda(db, "u1") or {})["meetings"][2]["startsAt"] is None


def test_status_changes_move_meetings_between_next_in_session_and_off_the_agendas(
    world: firestore.Client,
) -> None:
    db = world
    db.document("meetings/m1").update({"status": "in-session"})
    in_step(db, "m1 started")
    assert counts(db, "l1") == (3, 2, 3, ["m2"])  # m1's one attending ticket now counts
    assert [e["status"] for e in (agenda(db, "u1") or {})["meetings"]] == [
        "not-started",
        "not-started",
        "in-session",
    ]
    db.document("meetings/m3").update({"status": "closed"})
    db.document("meetings/m2").update({"status": "closed"})
    in_step(db, "m2 and m3 closed")
    assert counts(db, "l1") == (3, 1, 1, [])  # closed meetings still count in the total
    assert agenda_ids(db, "u3") == [] and (agenda(db, "u3") or {})["numUpcoming"] == 0
    assert agenda_ids(db, "u1") == ["m4", "m1"]


def test_a_meeting_moved_to_another_location_leaves_one_board_for_the_other(
    world: firestore.Client,
) -> None:
    db = world
    db.document("meetings/m3").update({"locationId": "l2"})
    in_step(db, "m3 moved to l2")
    assert counts(db, "l1") == (2, 0, 0, ["m2", "m1"])
    assert counts(db, "l2") == (2, 1, 2, ["m4"])
    assert (agenda(db, "u3") or {})["meetings"][1]["address"] == "2 Side St"
    db.document("meetings/m3").update({"locationId": "nowhere"})  # no such location
    in_step(db, "m3 moved to a location that does not exist")
    assert counts(db, "l2") == (1, 0, 0, ["m4"])
    assert (agenda(db, "u3") or {})["meetings"][1]["address"] is None


def test_participants_added_and_removed_change_the_old_and_the_new_agendas(
    world: firestore.Client,
) -> None:
    db = world
    db.document("meetings/m1").update({"participantIds": ["u2", "u3", "u4"]})  # u1 out
    in_step(db, "m1's participants changed")
    assert agenda_ids(db, "u1") == ["m2", "m4"]
    assert agenda_ids(db, "u3") == ["m2", "m1", "m3"]
    assert agenda_ids(db, "u4") == ["m4", "m1"]
    assert (agenda(db, "u4") or {})["numUpcoming"] == 2
    db.document("meetings/m1").update({"participantIds": ["u1"]})
    in_step(db, "m1's participants changed again")
    assert agenda_ids(db, "u1") == ["m2", "m4", "m1"]
    assert [agenda_ids(db, uid) for uid in ("u2", "u3", "u4")] == [["m3"], ["m2", "m3"], ["m4"]]


def test_ticket_attendance_changes_the_attending_count_in_session(
    world: firestore.Client,
) -> None:
    db = world
    db.document("meetings/m3/tickets/u3").update({"attendance": False})
    in_step(db, "u3 left m3")
    assert counts(db, "l1")[:3] == (3, 1, 1)
    db.document("meetings/m3/tickets/u2").delete()
    in_step(db, "u2's ticket was deleted")
    assert counts(db, "l1")[:3] == (3, 1, 0)
    db.document("meetings/m3/tickets/u3").set({"role": "participant", "attendance": True})
    db.document("meetings/m1/tickets/u2").update({"attendance": True})  # not in session
    in_step(db, "u3 came back to m3, u2 will attend m1")
    assert counts(db, "l1")[:3] == (3, 1, 1)


def test_a_location_address_change_reaches_every_agenda_entry_in_two_hops(
    world: firestore.Client,
) -> None:
    db = world
    db.document("locations/l1").update({"address": "1 Main St, 2nd floor"})
    in_step(db, "l1's address changed")
    entries = [
        entry
        for uid in ("u1", "u2", "u3")
        for entry in (agenda(db, uid) or {})["meetings"]
        if entry["meetingId"] in ("m1", "m2", "m3")
    ]
    assert len(entries) == 6
    assert {entry["address"] for entry in entries} == {"1 Main St, 2nd floor"}
    assert (board(db, "l1") or {})["address"] == "1 Main St, 2nd floor"
    assert (agenda(db, "u4") or {})["meetings"][0]["address"] == "2 Side St"


def test_a_deleted_location_takes_its_board_and_leaves_agenda_addresses_empty(
    world: firestore.Client,
) -> None:
    db = world
    db.document("locations/l1").delete()
    in_step(db, "l1 was deleted")
    assert board(db, "l1") is None
    assert [e["address"] for e in (agenda(db, "u1") or {})["meetings"]] == [None, "2 Side St", None]
    db.document("locations/l1").set(place("1 Main St, rebuilt"))
    in_step(db, "l1 was created again")
    assert counts(db, "l1") == (3, 1, 2, ["m2", "m1"])  # its meetings counted all along
    assert (agenda(db, "u3") or {})["meetings"][0]["address"] == "1 Main St, rebuilt"


def test_a_deleted_user_loses_the_agenda_and_a_deleted_meeting_leaves_every_list(
    world: firestore.Client,
) -> None:
    db = world
    db.document("users/u1").delete()
    in_step(db, "u1 was deleted")
    assert agenda(db, "u1") is None
    assert agenda_ids(db, "u4") == ["m4"]
    db.document("meetings/m2").delete()
    in_step(db, "m2 was deleted")
    assert agenda_ids(db, "u3") == ["m3"]
    assert counts(db, "l1") == (2, 1, 2, ["m1"])
    db.document("users/u1").set(person("U1, again"))
    in_step(db, "u1 was created again")
    assert agenda_ids(db, "u1") == ["m4", "m1"]  # the meetings still listing u1


# ============================================================================ the generated rules
def as_user(suite: EmulatorSuite, uid: str | None) -> RestClient:
    return RestClient(suite.firestore_host, suite.project_id, uid)


def test_an_agenda_is_readable_only_by_its_user_and_a_board_by_anyone_signed_in(
    world: firestore.Client, emulator_suite: EmulatorSuite
) -> None:
    """Real client requests through the repository's generated firestore.rules."""
    u1, u3, signed_out = (as_user(emulator_suite, uid) for uid in ("u1", "u3", None))
    mine = u1.get("agendas/u1")
    assert mine.status_code == 200, mine.text
    assert [e["meetingId"] for e in RestClient.fields(mine)["meetings"]] == ["m2", "m4", "m1"]
    assert u3.get("agendas/u1").status_code == 403
    assert signed_out.get("agendas/u1").status_code == 403
    assert u1.list("agendas").status_code == 403  # the others' agendas are in there

    for client in (u1, u3):  # u3 has no meeting at l2: a board is for anyone signed in
        response = client.get("locationBoards/l2")
        assert response.status_code == 200, response.text
        assert RestClient.fields(response)["meetingsTotal"] == 1
    listed = u3.list("locationBoards")
    assert listed.status_code == 200, listed.text
    names = sorted(d["name"].rsplit("/", 1)[1] for d in listed.json()["documents"])
    assert names == ["l1", "l2"]
    assert signed_out.get("locationBoards/l1").status_code == 403
    assert signed_out.list("locationBoards").status_code == 403

    # Views are read-only for clients; the cards they are built from are closed to them.
    assert u1.update("agendas/u1", {"numUpcoming": 0}).status_code == 403
    assert u1.create("agendas/new", {"uid": "new"}).status_code == 403
    assert u1.delete("agendas/u1").status_code == 403
    assert u1.update("locationBoards/l1", {"meetingsTotal": 0}).status_code == 403
    assert u1.get("meetingCards/m1").status_code == 403
    assert u1.list("meetingCards").status_code == 403
    in_step(world, "the client requests (none of which may change anything)")
