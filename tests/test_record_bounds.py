"""A record view's Many and Children sources are bounded (``max=``, default 1,000): an
aggregate past its bound is held back with an error naming the source, the count, the bound
and the fix, and is built again once it is back under it. Real pipeline, real emulator."""

from __future__ import annotations

import pytest
from boiler import App, Children, DeclarationError, Many, Root, Sources, ViewModel, compile_app
from boiler.runtime import bookkeeping
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from meeting_room import Meeting, Ticket, User

from . import triggers


class SmallMeeting(Sources):
    meeting: Meeting = Root(Meeting)
    people: dict[str, User] = Many(User, ids="participant_ids", max=3)
    tickets: dict[str, Ticket] = Children(Ticket, max=2)


class Roster(ViewModel, path="rosters/{meetingId}", sources=SmallMeeting):
    people: list[str]
    tickets: int

    @classmethod
    def build(cls, data: SmallMeeting) -> Roster:
        return cls(people=sorted(data.people), tickets=len(data.tickets))


BUILD = compile_app(App("bounds", domain=[Meeting, User, Ticket], views=[Roster]))


def write(db: firestore.Client, path: str, fields: dict | None) -> None:
    triggers.write(BUILD, db, path, fields)


def meeting(*people: str) -> dict:
    return {"title": "T", "locationId": "l1", "participantIds": list(people)}


def errors(db: firestore.Client) -> list[dict]:
    return [e.to_dict() or {} for e in db.collection(bookkeeping.ERRORS).stream()]


def test_an_aggregate_past_its_bound_is_held_back_with_a_clear_error(
    firestore: firestore.Client,
) -> None:
    db = firestore
    for uid in ("a", "b", "c", "d"):
        write(db, f"users/{uid}", {"firstName": uid, "lastName": "X", "organization": "O"})
    write(db, "meetings/m1", meeting("a", "b"))
    assert db.document("rosters/m1").get().to_dict() == {"people": ["a", "b"], "tickets": 0}

    write(db, "meetings/m1", meeting("a", "b", "c", "d"))  # 4 > max=3
    assert db.document("rosters/m1").get().to_dict() == {"people": ["a", "b"], "tickets": 0}
    [error] = errors(db)
    for words in ("SmallMeeting.people holds 4 User documents", "bound of 3", "max=3", "Count"):
        assert words in error["error"], error["error"]

    write(db, "meetings/m1", meeting("a", "b", "c"))  # back under: built, error gone
    assert db.document("rosters/m1").get().to_dict() == {"people": ["a", "b", "c"], "tickets": 0}
    assert errors(db) == []

    for uid in ("a", "b", "c"):  # 3 tickets > max=2: read at most 3, held back
        write(db, f"meetings/m1/tickets/{uid}", {"role": "participant", "attendance": True})
    assert db.document("rosters/m1").get().to_dict()["tickets"] == 2
    [error] = errors(db)
    assert "holds 3 Ticket documents, over its bound of 2" in error["error"], error["error"]
    held: set[str] = set()
    expected_views(Roster, db, held=held)
    assert held == {"m1"}  # the oracle holds it back too

    write(db, "meetings/m1/tickets/c", None)
    assert db.document("rosters/m1").get().to_dict()["tickets"] == 2
    assert errors(db) == []
    assert stored_views(Roster, db) == expected_views(Roster, db)


@pytest.mark.parametrize("bad", [0, -1, True, "3"])
def test_a_bound_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(DeclarationError) as raised:
        Many(User, ids="participant_ids", max=bad)  # type: ignore[arg-type]
    assert raised.value.code == "source-max-invalid" and "positive int" in str(raised.value)


def test_a_collection_past_its_bound_is_read_only_up_to_it(firestore: firestore.Client) -> None:
    db = firestore
    for uid in ("a", "b", "c", "d"):  # written before any event: the first read finds them
        db.document(f"meetings/m2/tickets/{uid}").set({"role": "participant"})
    write(db, "meetings/m2", meeting())
    assert not db.document("rosters/m2").get().exists
    [error] = errors(db)
    assert "holds more than 2 Ticket documents" in error["error"], error["error"]
    for uid in ("a", "b"):
        write(db, f"meetings/m2/tickets/{uid}", None)
    assert db.document("rosters/m2").get().to_dict() == {"people": [], "tickets": 2}
    assert errors(db) == []
