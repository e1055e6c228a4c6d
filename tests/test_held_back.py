"""Aggregates that cannot be built now (an invalid source, an invalid id, build() raising)
are held back, never lost: their record keeps following the domain, so the fix of any source
finds them and brings every view back to a from-scratch rebuild, whatever the delivery order."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from boiler import App, DomainModel, Join, Root, Sources, ViewModel, compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.pipeline import Outcome, Pipeline
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from meeting_room import MeetingSession, app

from .meeting_fixtures import PEOPLE, attending, create_meeting, view

BUILD = compile_app(app)
BAD_PROFILE = {**PEOPLE["u1"], "firstName": "Dee", "hearingAidRequested": "yes"}


def deliver(db: firestore.Client, source: str, document: str, event_id: str = "") -> Outcome:
    trigger = BUILD.trigger(f"meeting_session_on_{source}")
    return Pipeline(trigger, client=db).handle(event_id or uuid.uuid4().hex, document)


def errors(db: firestore.Client) -> list[dict[str, Any]]:
    return [snap.to_dict() or {} for snap in db.collection(bookkeeping.ERRORS).stream()]


def record(db: firestore.Client, key: str = "m1") -> dict[str, Any]:
    return bookkeeping.aggregate_ref(db, "MeetingSession", key).get().to_dict() or {}


def assert_views_equal_a_rebuild(db: firestore.Client) -> None:
    assert stored_views(MeetingSession, db) == expected_views(MeetingSession, db)


def assert_nothing_pending(db: firestore.Client) -> None:
    assert list(db.collection(bookkeeping.PENDING).stream()) == []


@pytest.fixture
def meeting(firestore: firestore.Client) -> firestore.Client:
    create_meeting(firestore)  # m1: u1, u2 attending, u3 not
    assert deliver(firestore, "meeting", "meetings/m1").views_written == 3
    return firestore


def test_an_invalid_participant_holds_back_a_rename_until_fixed(meeting: firestore.Client) -> None:
    db = meeting
    before = view(db, "u1")
    db.document("users/u4").set(BAD_PROFILE)
    db.document("meetings/m1").update(
        {"title": "Renamed", "participantIds": ["u1", "u2", "u3", "u4"]}
    )
    db.document("meetings/m1/tickets/u4").set({"role": "participant", "attendance": True})
    outcome = deliver(db, "meeting", "meetings/m1", "rename")
    assert outcome.status == "applied"
    assert [problem.path for problem in outcome.invalid] == ["users/u4"]  # type: ignore[attr-defined]
    assert view(db, "u1") == before and view(db, "u4") is None  # held back, not half-built
    assert "users/u4" in record(db)["deps"]  # ... but the record follows: the fix will find it
    [error] = errors(db)
    assert (error["sourcePath"], error["fields"], error["eventId"]) == (
        "users/u4",
        ["hearingAidRequested"],
        "rename",
    )
    deliver(db, "ticket", "meetings/m1/tickets/u4")  # more events while invalid: recorded once
    assert [e["eventId"] for e in errors(db)] == ["rename"]

    db.document("users/u4").set({**BAD_PROFILE, "hearingAidRequested": True})
    deliver(db, "user", "users/u4")
    assert view(db, "u1")["title"] == "Renamed"  # type: ignore[index]
    assert attending(db, "u4") == ["u1", "u2", "u4"]
    assert errors(db) == []  # resolved with the fix
    assert_views_equal_a_rebuild(db)
    assert_nothing_pending(db)


def test_a_new_meeting_with_an_invalid_participant_gets_views_once_it_is_fixed(
    firestore: firestore.Client,
) -> None:
    db = firestore
    create_meeting(db, "m2", {"u1": True, "u2": True})
    db.document("users/u2").set({**PEOPLE["u2"], "organization": 7})
    assert [p.path for p in deliver(db, "meeting", "meetings/m2").invalid] == ["users/u2"]  # type: ignore[attr-defined]
    assert view(db, "u1", "m2") is None
    db.document("users/u2").set(PEOPLE["u2"])
    deliver(db, "user", "users/u2")
    assert attending(db, "u1", "m2") == ["u1", "u2"]
    assert_views_equal_a_rebuild(db)


# Three changes while u4 is invalid, then its fix: every delivery order ends in the rebuild.
CHANGES = [
    ("ticket", "meetings/m1/tickets/u3", {"role": "participant", "attendance": True}),
    ("meeting", "meetings/m1", None),  # retitled (the meeting itself is written below)
    ("user", "users/u4", {**BAD_PROFILE, "hearingAidRequested": False}),  # the fix
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_changes_made_while_a_source_was_invalid_survive_any_delivery_order(
    meeting: firestore.Client, order: tuple[int, ...]
) -> None:
    db = meeting
    db.document("users/u4").set(BAD_PROFILE)
    db.document("meetings/m1").update({"participantIds": ["u1", "u2", "u3", "u4"]})
    deliver(db, "meeting", "meetings/m1")  # the record now depends on invalid u4
    for _source, path, data in CHANGES:
        if data is None:
            db.document(path).update({"title": "Retitled"})
        else:
            db.document(path).set(data)
    for index in order:
        source, path, _ = CHANGES[index]
        deliver(db, source, path)
    assert attending(db, "u1") == ["u1", "u2", "u3"]
    assert view(db, "u4")["title"] == "Retitled"  # type: ignore[index]
    assert_views_equal_a_rebuild(db)
    assert errors(db) == []


@pytest.mark.parametrize("bad_id", ["", "a/b", "__x__", "..", "."])
def test_an_invalid_participant_id_is_an_invalid_document_recorded_once(
    meeting: firestore.Client, bad_id: str
) -> None:
    db = meeting
    before = view(db, "u1")
    db.document("meetings/m1").update({"participantIds": ["u1", bad_id, "u2"]})
    first = deliver(db, "meeting", "meetings/m1", "bad-id")
    second = deliver(db, "ticket", "meetings/m1/tickets/u2")
    # No raise, no retry loop; the ticket's event finds the aggregate still held back and
    # its record as it was: nothing to write.
    assert (first.status, second.status) == ("applied", "unchanged")
    assert_nothing_pending(db)
    assert view(db, "u1") == before
    [error] = errors(db)
    assert (error["sourcePath"], error["fields"], error["eventId"]) == (
        "meetings/m1",
        ["participantIds.1"],
        "bad-id",
    )
    assert repr(bad_id) in error["error"]  # the value, and why it is no document id
    db.document("meetings/m1").update({"participantIds": ["u1", "u2"]})
    deliver(db, "meeting", "meetings/m1")
    assert view(db, "u3") is None and attending(db, "u1") == ["u1", "u2"]
    assert errors(db) == []
    assert_views_equal_a_rebuild(db)


@pytest.mark.parametrize("bad_id", ["a/b", "__x__", ".."])
def test_an_invalid_location_id_holds_back_only_its_meeting(
    meeting: firestore.Client, bad_id: str
) -> None:
    db = meeting
    create_meeting(db, "m2", {"u1": True})
    deliver(db, "meeting", "meetings/m2")
    db.document("meetings/m2").update({"locationId": bad_id})
    assert [p.path for p in deliver(db, "meeting", "meetings/m2").invalid] == ["meetings/m2"]  # type: ignore[attr-defined]
    db.document("users/u1").update({"firstName": "Annie"})  # fans out to m1 and m2
    outcome = deliver(db, "user", "users/u1")
    assert outcome.status == "applied" and outcome.aggregates == 2
    assert view(db, "u2")["attending"][0]["name"] == "Annie Lee"  # type: ignore[index]
    assert view(db, "u1", "m2")["attending"][0]["name"] == "Ann Lee"  # type: ignore[index]
    db.document("meetings/m2").update({"locationId": "l1"})
    deliver(db, "meeting", "meetings/m2")
    assert view(db, "u1", "m2")["attending"][0]["name"] == "Annie Lee"  # type: ignore[index]
    assert_views_equal_a_rebuild(db)


# -- build() raising for one aggregate never holds back the others ------------------------------
class Team(DomainModel, path="teams/{teamId}"):
    name: str


class Player(DomainModel, path="players/{playerId}"):
    nickname: str
    team_id: str


class PlayerData(Sources):
    player: Player = Root(Player)
    team: Team | None = Join(Team, on="team_id")


class PlayerCard(ViewModel, path="playerCards/{playerId}", sources=PlayerData):
    label: str

    @classmethod
    def build(cls, data: PlayerData) -> PlayerCard:
        if data.player.nickname == "boom":
            raise ZeroDivisionError("a bug in build()")
        return cls(label=f"{data.player.nickname} ({data.team.name if data.team else '-'})")


TEAMS = compile_app(App("teams", domain=[Team, Player], views=[PlayerCard]))


def test_build_raising_for_one_aggregate_holds_back_only_that_one(
    firestore: firestore.Client,
) -> None:
    db = firestore

    def run(source: str, path: str) -> Outcome:
        trigger = TEAMS.trigger(f"player_card_on_{source}")
        return Pipeline(trigger, client=db).handle(uuid.uuid4().hex, path)

    db.document("teams/t1").set({"name": "Owls"})
    db.document("players/p1").set({"nickname": "ace", "teamId": "t1"})
    db.document("players/p2").set({"nickname": "boom", "teamId": "t1"})
    run("player", "players/p1")
    assert run("player", "players/p2").invalid  # held back, recorded, no exception
    db.document("teams/t1").set({"name": "Hawks"})
    outcome = run("team", "teams/t1")
    assert outcome.status == "applied" and outcome.aggregates == 2
    assert db.document("playerCards/p1").get().get("label") == "ace (Hawks)"
    assert not db.document("playerCards/p2").get().exists
    [error] = errors(db)
    assert error["kind"] == "build-failed" and "ZeroDivisionError" in error["error"]
    assert error["key"] == "p2"
    db.document("players/p2").set({"nickname": "bang", "teamId": "t1"})
    run("player", "players/p2")
    assert db.document("playerCards/p2").get().get("label") == "bang (Hawks)"
    assert errors(db) == []
    assert_nothing_pending(db)


def test_reconcile_holds_back_like_the_pipeline_so_the_fix_finds_the_aggregate(
    meeting: firestore.Client,
) -> None:
    from boiler.runtime.reconcile import reconcile

    db = meeting
    db.document("users/u4").set(BAD_PROFILE)
    # A record that never learnt about u4 (what the pipeline left before holding back).
    db.document("meetings/m1").update({"participantIds": ["u1", "u2", "u3", "u4"]})
    db.document("meetings/m1/tickets/u4").set({"role": "participant", "attendance": True})
    report = reconcile(MeetingSession, db)
    assert report.failed == 0 and len(report.invalid) == 1
    assert "users/u4" in report.invalid[0] and "users/u4" in record(db)["deps"]
    assert [e["function"] for e in errors(db)] == ["reconcile"]
    db.document("users/u4").set(PEOPLE["u1"])
    deliver(db, "user", "users/u4")
    assert attending(db, "u4") == ["u1", "u2", "u4"]
    assert_views_equal_a_rebuild(db)
    assert errors(db) == []


def test_one_invalid_profile_in_many_meetings_is_recorded_once_and_fixed_everywhere(
    meeting: firestore.Client,
) -> None:
    db = meeting
    for meeting_id in ("m2", "m3"):
        create_meeting(db, meeting_id, {"u1": True, "u2": True})
        deliver(db, "meeting", f"meetings/{meeting_id}")
    db.document("users/u2").set({**PEOPLE["u2"], "lastName": None})
    outcome = deliver(db, "user", "users/u2")  # m1, m2, m3 in one commit
    assert sorted(p.path for p in outcome.invalid) == ["users/u2"] * 3  # type: ignore[attr-defined]
    assert [(e["sourcePath"], e["fields"]) for e in errors(db)] == [("users/u2", ["lastName"])]
    db.document("users/u2").set({**PEOPLE["u2"], "lastName": "Fixed"})
    deliver(db, "user", "users/u2")
    for meeting_id in ("m1", "m2", "m3"):
        assert view(db, "u1", meeting_id)["attending"][1]["name"] == "Bo Fixed"  # type: ignore[index]
    assert errors(db) == []
    assert_views_equal_a_rebuild(db)


def test_every_recorded_problem_is_resolved_not_only_the_latest(
    meeting: firestore.Client,
) -> None:
    """A ticket goes invalid, then the meeting itself: both are recorded; fixing each removes
    its own error document (the record tracks every outstanding one)."""
    db = meeting
    db.document("meetings/m1/tickets/u2").update({"role": 3})
    deliver(db, "ticket", "meetings/m1/tickets/u2")
    db.document("meetings/m1").update({"title": None})
    deliver(db, "meeting", "meetings/m1")
    assert sorted(e["sourcePath"] for e in errors(db)) == ["meetings/m1", "meetings/m1/tickets/u2"]
    db.document("meetings/m1/tickets/u2").update({"role": "participant"})
    deliver(db, "ticket", "meetings/m1/tickets/u2")
    assert [e["sourcePath"] for e in errors(db)] == ["meetings/m1"]
    db.document("meetings/m1").update({"title": "Back"})
    deliver(db, "meeting", "meetings/m1")
    assert errors(db) == [] and view(db, "u1")["title"] == "Back"  # type: ignore[index]
    assert "problems" not in record(db)
    assert_views_equal_a_rebuild(db)


def test_a_participant_removed_while_invalid_is_left_to_others_and_cleared_if_valid(
    meeting: firestore.Client,
) -> None:
    db = meeting
    db.document("users/u3").update({"organization": 5})
    deliver(db, "user", "users/u3")
    assert [e["sourcePath"] for e in errors(db)] == ["users/u3"]
    db.document("users/u3").update({"organization": "Acme"})  # fixed, but its event is late
    db.document("meetings/m1").update({"participantIds": ["u1", "u2"]})
    deliver(db, "meeting", "meetings/m1")  # u3 is no longer a source: read once, valid
    assert errors(db) == [] and "problems" not in record(db)
    assert_views_equal_a_rebuild(db)


def test_deleting_the_meeting_withdraws_the_errors_of_its_own_documents(
    meeting: firestore.Client,
) -> None:
    db = meeting
    db.document("meetings/m1/tickets/u2").update({"attendance": "maybe"})
    deliver(db, "ticket", "meetings/m1/tickets/u2")
    assert [e["sourcePath"] for e in errors(db)] == ["meetings/m1/tickets/u2"]
    db.document("meetings/m1").delete()  # its tickets stay behind, still invalid
    deliver(db, "meeting", "meetings/m1")
    assert errors(db) == [] and view(db, "u1") is None
    db.document("meetings/m1").set({"title": "Again", "locationId": "l1", "participantIds": ["u2"]})
    deliver(db, "meeting", "meetings/m1")  # back, and the ticket is still invalid: recorded again
    assert [e["sourcePath"] for e in errors(db)] == ["meetings/m1/tickets/u2"]
