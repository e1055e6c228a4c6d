"""Agendas and location boards kept from each change (runtime/tallies.py), on the emulator."""

from __future__ import annotations

import datetime as dt

from google.cloud import firestore

from .meeting_lists import deliver, expected_lists, stored_lists

T0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


def write(db: firestore.Client, path: str, fields: dict | None) -> None:
    if fields is None:
        db.document(path).delete()
    else:
        db.document(path).set(fields)
    deliver(db, path)


def meeting(
    title: str, location: str, people: list[str], status: str = "not-started", hours: int | None = 0
) -> dict:
    fields = {"title": title, "locationId": location, "participantIds": people, "status": status}
    if hours is not None:
        fields["startsAt"] = T0 + dt.timedelta(hours=hours)
    return fields


def user(first: str) -> dict:
    return {"firstName": first, "lastName": "X", "organization": "Acme"}


def test_agendas_and_boards_follow_every_kind_of_change(firestore: firestore.Client) -> None:
    db = firestore
    for uid in ("u1", "u2", "u3"):
        write(db, f"users/{uid}", user(uid))
    write(db, "locations/l1", {"address": "1 Main", "latitude": 0.0, "longitude": 0.0})
    write(db, "locations/l2", {"address": "2 Side", "latitude": 0.0, "longitude": 0.0})
    write(db, "meetings/m1", meeting("One", "l1", ["u1", "u2"], hours=3))
    write(db, "meetings/m2", meeting("Two", "l1", ["u1"], hours=1))
    write(db, "meetings/m3", meeting("Three", "l1", ["u2", "u3"], status="in-session", hours=None))
    write(db, "meetings/m3/tickets/u2", {"role": "host", "attendance": True})
    write(db, "meetings/m3/tickets/u3", {"role": "participant", "attendance": True})
    assert stored_lists(db) == expected_lists(db)
    board = db.document("locationBoards/l1").get().to_dict()
    assert board["meetingsTotal"] == 3 and board["attendingInSession"] == 2
    assert [entry["meetingId"] for entry in board["next"]] == ["m2", "m1"]

    write(db, "meetings/m1", meeting("One", "l2", ["u3"], hours=0))  # moves, new people
    write(db, "meetings/m3/tickets/u3", {"role": "participant", "attendance": False})
    write(db, "locations/l2", {"address": "2 Side, renamed", "latitude": 0.0, "longitude": 0.0})
    write(db, "meetings/m2", None)
    write(db, "meetings/m3", meeting("Three", "l1", ["u2", "u3"], status="closed", hours=None))
    assert stored_lists(db) == expected_lists(db)
    assert db.document("agendas/u3").get().to_dict()["meetings"][0]["address"] == "2 Side, renamed"
    write(db, "users/u1", None)
    write(db, "locations/l1", None)
    assert stored_lists(db) == expected_lists(db)
    assert not db.document("agendas/u1").get().exists


def test_a_deleted_root_that_was_invalid_takes_its_view_along(firestore: firestore.Client) -> None:
    """The state forgets the root's last valid copy and its problem when the root goes."""
    from boiler.runtime.tallies import tallies_of

    db = firestore
    write(db, "users/u2", user("u2"))
    write(db, "locations/l1", {"address": "1 Main", "latitude": 0.0, "longitude": 0.0})
    write(db, "meetings/m1", meeting("One", "l1", ["u2"]))
    write(db, "users/u2", {"firstName": 5})  # invalid: the agenda stays as it was
    assert db.document("agendas/u2").get().exists
    write(db, "users/u2", None)
    assert not db.document("agendas/u2").get().exists
    state = tallies_of(db, "Agenda").document("u2").get().to_dict() or {}
    assert "root" not in state and "rootProblem" not in state
    assert stored_lists(db) == expected_lists(db)


def test_an_agenda_past_fifty_refills_when_an_entry_leaves(firestore: firestore.Client) -> None:
    """55 upcoming meetings: the agenda lists the first 50 by start and counts 55; closing
    listed ones pulls the next in from the membership entries (a bounded query)."""
    db = firestore
    write(db, "users/u1", user("u1"))
    write(db, "locations/l1", {"address": "1 Main", "latitude": 0.0, "longitude": 0.0})
    batch = db.batch()
    for number in range(55):  # written together, then their events: as a burst would be
        hours = None if number % 11 == 0 else number
        batch.set(
            db.document(f"meetings/m{number:02d}"), meeting(f"M{number}", "l1", ["u1"], hours=hours)
        )
    batch.commit()
    for number in range(55):
        deliver(db, f"meetings/m{number:02d}")
    agenda = db.document("agendas/u1").get().to_dict()
    assert agenda["numUpcoming"] == 55 and len(agenda["meetings"]) == 50
    assert stored_lists(db) == expected_lists(db)
    for number in (1, 2, 3):  # listed first: each close refills from beyond the 50th
        write(db, f"meetings/m{number:02d}", meeting(f"M{number}", "l1", ["u1"], "closed", number))
    write(db, "meetings/m04", meeting("M4", "l1", ["u1"], hours=500))  # to the end, scheduled
    agenda = db.document("agendas/u1").get().to_dict()
    assert agenda["numUpcoming"] == 52 and len(agenda["meetings"]) == 50
    assert stored_lists(db) == expected_lists(db)


def test_a_meeting_in_hundreds_of_agendas_moves_them_in_batches(
    firestore: firestore.Client,
) -> None:
    """230 participants: one card event moves 230 agendas, 100 keys per commit, each later
    commit reading only its own keys' entries; then 120 leave and the rest are retitled."""
    from boiler.runtime import tallies
    from boiler.runtime.tally_pipeline import pipeline_for

    from .meeting_lists import BUILD

    db = firestore
    people = [f"u{number:03d}" for number in range(230)]
    batch = db.batch()
    for uid in people:
        batch.set(db.document(f"users/{uid}"), user(uid))
    batch.commit()
    trigger = BUILD.trigger("agenda_on_user")
    for uid in people:
        pipeline_for(trigger, client=db).handle(f"e-{uid}", f"users/{uid}")
    write(db, "locations/l1", {"address": "1 Main", "latitude": 0.0, "longitude": 0.0})
    write(db, "meetings/big", meeting("Big", "l1", people))
    assert tallies.KEYS_PER_COMMIT < len(people)
    assert stored_lists(db) == expected_lists(db)
    assert db.document("agendas/u229").get().to_dict()["meetings"][0]["title"] == "Big"
    db.document("meetings/big").set(meeting("Bigger", "l1", people[120:]))
    outcomes = deliver(db, "meetings/big")
    [agenda] = [o for o in outcomes if o.function == "agenda_on_meeting_card"]
    assert agenda.aggregates == 230 and agenda.commits == 3  # 100 + 100 + 30 keys
    assert stored_lists(db) == expected_lists(db)
    assert db.document("agendas/u000").get().to_dict()["numUpcoming"] == 0
    assert db.document("agendas/u229").get().to_dict()["meetings"][0]["title"] == "Bigger"
