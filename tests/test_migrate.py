"""Migrations (runtime/migrate.py): after a change to a view's declaration and its version,
one run brings every stored view to the new shape, with counts; an interrupted run resumes
after its cursor; a finished one is a no-op; failed keys keep it unfinished until a rerun
rebuilds them. On the emulator, with the meeting room's demo data built by the real triggers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from boiler import App, BoilerError, DeclarationError, ViewModel, uid_in_path
from boiler.cli import main
from boiler.runtime.migrate import (
    ALREADY,
    INCOMPLETE,
    MIGRATED,
    failures_of,
    migrate,
    migration_ref,
)
from google.cloud import firestore
from meeting_room import Agenda as AgendaV1
from meeting_room import Location, Meeting, MeetingCard, Ticket, User
from meeting_room.domain import MeetingStatus
from meeting_room.seed import seed
from meeting_room.views import AgendaData, AgendaEntry, MeetingCardData

from .meeting_lists import deliver, expected_lists
from .view_walks import spy_on_batches

MEETINGS = 9  # meeting_room.seed: nine meetings, three people, two locations
PEOPLE = ("alice", "bob", "carol")


# -- version 2 of two views: the same name and path, a new field -------------------------------
def _card_v2(broken_key: str | None = None) -> type[ViewModel]:
    class MeetingCard(
        ViewModel, path="meetingCards/{meetingId}", sources=MeetingCardData, version=2
    ):
        meeting_id: str
        title: str
        status: MeetingStatus
        starts_at: dt.datetime | None
        location_id: str
        address: str | None
        participant_ids: list[str]
        num_attending: int
        headline: str  # new in version 2

        @classmethod
        def build(cls, data: MeetingCardData) -> ViewModel:
            if data.key == broken_key:
                raise RuntimeError(f"no headline for {data.key}")
            fields = CardV1.build(data).model_dump()
            return cls(**fields, headline=headline(fields["title"], fields["address"]))

    return MeetingCard


CardV1 = MeetingCard


def headline(title: str, address: str | None) -> str:
    return f"{title} @ {address or 'nowhere'}"


CardV2 = _card_v2()
BrokenCardV2 = _card_v2(broken_key="kickoff")


class Agenda(  # version 2 of meeting_room's Agenda
    ViewModel, path="agendas/{uid}", sources=AgendaData, readable_by=uid_in_path("uid"), version=2
):
    uid: str
    meetings: list[AgendaEntry]
    num_upcoming: int
    next_title: str | None  # new in version 2

    @classmethod
    def build(cls, data: AgendaData) -> Agenda:
        v1 = AgendaV1.build(data)
        first = v1.meetings[0].title if v1.meetings else None
        return cls(uid=v1.uid, meetings=v1.meetings, num_upcoming=v1.num_upcoming, next_title=first)


DOMAIN = [User, Location, Meeting, Ticket]
CARDS_V2 = App("cards_v2", domain=DOMAIN, views=[CardV2])
BROKEN_CARDS_V2 = App("cards_v2", domain=DOMAIN, views=[BrokenCardV2])


@pytest.fixture
def db(firestore: firestore.Client) -> firestore.Client:
    """The demo data, every view built by the real triggers (version 1 of every view)."""
    for path in seed(firestore):
        deliver(firestore, path)
    return firestore


def _docs(db: firestore.Client, collection: str) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in db.collection(collection).stream()}


def _update_times(db: firestore.Client, collection: str) -> dict[str, Any]:
    return {s.id: s.update_time for s in db.collection(collection).stream()}


def _progress(db: firestore.Client, view: str) -> dict[str, Any]:
    return migration_ref(db, view).get().to_dict() or {}


def test_a_record_view_migrates_to_its_new_shape_once(db: firestore.Client) -> None:
    before = _docs(db, "meetingCards")
    assert len(before) == MEETINGS and all("headline" not in card for card in before.values())

    # Never migrated: migrated once (nothing says what shape its views have), nothing to rewrite.
    first = migrate(CardV1, db)
    assert (first.status, first.previous, first.version) == (MIGRATED, None, 1)
    assert (first.aggregates, first.total, first.rewritten, first.deleted) == (9, 9, 0, 0)

    report = migrate(CardV2, db, batch=4)
    assert (report.status, report.previous, report.version) == (MIGRATED, 1, 2), report.as_dict()
    assert (report.aggregates, report.total, report.processed) == (MEETINGS, MEETINGS, MEETINGS)
    assert (report.rewritten, report.deleted, report.failed) == (MEETINGS, 0, 0)
    after = _docs(db, "meetingCards")
    assert after == {
        key: {**card, "headline": headline(card["title"], card["address"])}
        for key, card in before.items()
    }
    stored = _progress(db, "MeetingCard")
    assert stored["version"] == 2 and stored["cursor"] == max(before)
    assert stored["counts"] == {
        "aggregates": MEETINGS,
        "rewritten": MEETINGS,
        "deleted": 0,
        "heldBack": 0,
        "failed": 0,
    }
    assert stored["startedAt"] is not None and stored["finishedAt"] is not None

    times = _update_times(db, "meetingCards")
    again = migrate(CardV2, db)
    assert again.status == ALREADY and again.processed == 0
    assert again.summary() == "MeetingCard: already at version 2"
    assert _update_times(db, "meetingCards") == times  # not one write


def test_an_aggregate_view_migrates_and_the_domain_still_drives_it(db: firestore.Client) -> None:
    expected = expected_lists(db)
    report = migrate(Agenda, db)
    assert (report.status, report.previous) == (MIGRATED, None), report.as_dict()
    assert (report.aggregates, report.total, report.rewritten, report.deleted) == (3, 3, 3, 0)
    agendas = _docs(db, "agendas")
    assert set(agendas) == set(PEOPLE)
    for uid, agenda in agendas.items():
        first = agenda["meetings"][0]["title"] if agenda["meetings"] else None
        assert agenda.pop("nextTitle") == first
        assert agenda == expected[f"agendas/{uid}"]  # the rest as version 1 built it
    assert migrate(Agenda, db).status == ALREADY
    # A new declared version starts over (here: back to version 1, nextTitle goes).
    back = migrate(AgendaV1, db)
    assert (back.status, back.previous, back.version, back.rewritten) == (MIGRATED, 2, 1, 3)
    assert {f"agendas/{uid}": a for uid, a in _docs(db, "agendas").items()} == {
        path: view for path, view in expected.items() if path.startswith("agendas/")
    }


class Interrupted(Exception):
    pass


@pytest.mark.parametrize(
    ("view", "collection", "keys"),
    [
        (CardV2, "meetingCards", MEETINGS),
        (Agenda, "agendas", len(PEOPLE)),
    ],
    ids=["record-view", "aggregate-view"],
)
def test_an_interrupted_migration_resumes_after_its_cursor(
    db: firestore.Client,
    monkeypatch: pytest.MonkeyPatch,
    view: type[ViewModel],
    collection: str,
    keys: int,
) -> None:
    calls = spy_on_batches(monkeypatch)
    name = view.spec().name

    def stop(report: Any) -> None:
        raise Interrupted(report.cursor)

    with pytest.raises(Interrupted):
        migrate(view, db, batch=2, progress=stop)
    done = calls[0]
    stored = _progress(db, name)
    assert len(done) == 2 and stored["cursor"] == done[-1]
    assert stored["counts"]["aggregates"] == 2 and stored["counts"]["rewritten"] == 2
    assert stored["finishedAt"] is None
    shapes = _docs(db, collection)
    assert sum("headline" in d or "nextTitle" in d for d in shapes.values()) == 2

    calls.clear()
    seen: list[int] = []
    report = migrate(view, db, batch=2, progress=lambda r: seen.append(r.aggregates))
    rest = [key for batch in calls for key in batch]
    assert rest and min(rest) > done[-1] and len(rest) == keys - 2  # finished keys not redone
    assert seen == list(range(4, keys + 1, 2)) + ([keys] if keys % 2 else [])
    assert (report.status, report.processed) == (MIGRATED, keys - 2), report.as_dict()
    assert (report.aggregates, report.total, report.rewritten) == (keys, keys, keys)
    shapes = _docs(db, collection)
    assert len(shapes) == keys and all("headline" in d or "nextTitle" in d for d in shapes.values())
    assert migrate(view, db).status == ALREADY


def test_failed_keys_keep_the_migration_unfinished_until_a_rerun_rebuilds_them(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _docs(db, "meetingCards")
    report = migrate(BrokenCardV2, db, batch=4)
    assert (report.status, report.aggregates, report.rewritten) == (INCOMPLETE, 9, 8)
    assert [f["key"] for f in report.failures] == ["kickoff"]
    assert "no headline for kickoff" in report.failures[0]["error"]
    assert _docs(db, "meetingCards")["kickoff"] == before["kickoff"]  # as it was
    stored = _progress(db, "MeetingCard")
    assert stored["counts"]["failed"] == 1 and stored["finishedAt"] is None
    assert [s.id for s in failures_of(db, "MeetingCard").stream()] == ["kickoff"]

    # Still broken: the rerun retries the failed key only, and says so (exit code 1).
    calls = spy_on_batches(monkeypatch)
    capsys.readouterr()
    assert main(["migrate", "--app", "tests.test_migrate:BROKEN_CARDS_V2"]) == 1
    out, err = capsys.readouterr()
    assert "MeetingCard: version 2 (was 2): incomplete, 9/9 aggregates" in out
    assert "1 failed" in out and "MeetingCard/kickoff not rebuilt" in err
    assert calls == [["kickoff"]]

    calls.clear()
    fixed = migrate(CardV2, db)  # the fix, same version
    assert calls == [["kickoff"]]
    assert (fixed.status, fixed.processed, fixed.failed, fixed.rewritten) == (MIGRATED, 1, 0, 9)
    assert "headline" in _docs(db, "meetingCards")["kickoff"]
    assert list(failures_of(db, "MeetingCard").stream()) == []
    assert _progress(db, "MeetingCard")["counts"]["failed"] == 0


def test_a_second_migration_of_one_view_at_once_is_stopped(db: firestore.Client) -> None:
    def another(report: Any) -> None:
        if report.processed == 2:
            migrate(CardV2, db)  # runs to the end meanwhile

    with pytest.raises(BoilerError) as raised:
        migrate(CardV2, db, batch=2, progress=another)
    assert raised.value.code == "migration-concurrent"
    assert migrate(CardV2, db).status == ALREADY


def _printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What the CLI printed, without the structured log lines (JSON) the runtime writes."""
    return [line for line in capsys.readouterr().out.splitlines() if not line.startswith("{")]


def test_the_cli_migrates_every_view_in_dependency_order(
    db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["migrate", "--app", "meeting_room"]) == 0
    lines = _printed(capsys)
    assert [line.split(":")[0] for line in lines] == [
        "MeetingSession",
        "MeetingCard",
        "Agenda",
        "LocationBoard",
    ]
    assert lines[1] == (
        "MeetingCard: version 1 (never migrated): migrated, 9/9 aggregates, "
        "0 views rewritten, 0 deleted, 0 held back, 0 failed"
    )
    assert all("0 views rewritten, 0 deleted, 0 held back, 0 failed" in line for line in lines)
    assert main(["migrate", "--app", "meeting_room", "--view", "Agenda"]) == 0
    assert _printed(capsys) == ["Agenda: already at version 1"]
    assert main(["migrate", "--app", "tests.test_migrate:CARDS_V2", "--batch", "3"]) == 0
    assert _printed(capsys) == [
        "MeetingCard: version 2 (was 1): migrated, 9/9 aggregates, 9 views rewritten, "
        "0 deleted, 0 held back, 0 failed"
    ]


@pytest.mark.parametrize("version", [0, -1, "2", True, 1.5, None])
def test_a_version_must_be_a_positive_int(version: Any) -> None:
    with pytest.raises(DeclarationError) as raised:

        class Board(ViewModel, path="boards/{meetingId}", sources=MeetingCardData, version=version):
            title: str

    assert raised.value.code == "view-version-invalid"
    assert "Board: version= must be a positive int" in str(raised.value)
    assert "raise it by one" in str(raised.value)
