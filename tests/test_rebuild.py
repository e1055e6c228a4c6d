"""Rebuild (runtime/rebuild.py, `boiler rebuild`): views deleted, damaged or left over are
rebuilt from the domain with counts; an interrupted run resumes after its cursor, a failed key
keeps the run unfinished until a rerun rebuilds it. On the standalone emulator, with the
meeting room's demo data built by the real triggers (delivered in-process).

The distributed rebuild (runtime/rebuild_distributed.py) runs in tests/test_rebuild_distributed.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from boiler import App, BoilerError, ViewModel
from boiler.cli import main
from boiler.runtime.rebuild import INCOMPLETE, REBUILT, rebuild, rebuild_ref
from boiler.testing import oracle
from google.cloud import firestore
from meeting_room import Location, Meeting, MeetingCard, MeetingSession, Ticket, User
from meeting_room.seed import seed
from meeting_room.views import MeetingCardData

from .meeting_lists import deliver
from .view_walks import damage_sessions, spy_on_batches

MEETINGS = 9  # meeting_room.seed: nine meetings


class Interrupted(Exception):
    pass


def _broken_card(broken_key: str) -> type[ViewModel]:
    class MeetingCard(ViewModel, path="meetingCards/{meetingId}", sources=MeetingCardData):
        meeting_id: str
        title: str

        @classmethod
        def build(cls, data: MeetingCardData) -> ViewModel:
            if data.key == broken_key:
                raise RuntimeError(f"cannot build {data.key}")
            card = RealCard.build(data)
            return cls(meeting_id=card.meeting_id, title=card.title)  # type: ignore[attr-defined]

    return MeetingCard


RealCard = MeetingCard
BrokenCard = _broken_card("kickoff")
DOMAIN = [User, Location, Meeting, Ticket]
BROKEN = App("broken_cards", domain=DOMAIN, views=[BrokenCard])


@pytest.fixture
def db(firestore: firestore.Client) -> firestore.Client:
    """The demo data, every view built by the real triggers."""
    for path in seed(firestore):
        deliver(firestore, path)
    return firestore


def wrong(view: type[ViewModel], db: firestore.Client) -> tuple[int, int, int]:
    """Stored views against the oracle's from-scratch build: (wrong, missing, extra)."""
    counts = oracle.wrong_views(view, db)
    return counts["wrong"], counts["missing"], counts["extra"]


def _printed(capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    """The CLI's summary lines (not the runtime's JSON log lines), and stderr."""
    out, err = capsys.readouterr()
    return [line for line in out.splitlines() if not line.startswith("{")], err


def test_the_cli_repairs_deleted_stale_and_orphan_views_with_counts(
    db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert wrong(MeetingSession, db) == (0, 0, 0)
    damage_sessions(db)
    assert wrong(MeetingSession, db) == (1, 2, 1)
    capsys.readouterr()
    assert main(["rebuild", "--app", "meeting_room", "MeetingSession"]) == 0
    lines, err = _printed(capsys)
    assert len(lines) == 1 and lines[0].startswith("MeetingSession: rebuilt (new run ")
    assert lines[0].endswith(
        f"{MEETINGS}/{MEETINGS} aggregates, 3 views rewritten, 1 deleted, 0 held back, 0 failed"
    )
    assert f"{MEETINGS}/{MEETINGS}" in err  # the progress bar's last state
    assert wrong(MeetingSession, db) == (0, 0, 0)
    stored = rebuild_ref(db, "MeetingSession").get().to_dict() or {}
    assert stored["mode"] == "local" and stored["finishedAt"] is not None
    assert stored["counts"] == {
        "aggregates": MEETINGS,
        "rewritten": 3,
        "deleted": 1,
        "heldBack": 0,
        "failed": 0,
    }

    # Finished: asked again, it is a new run over every view, which finds nothing to do.
    assert main(["rebuild", "--app", "meeting_room"]) == 0
    lines, _ = _printed(capsys)
    assert [line.split(":")[0] for line in lines] == [
        "MeetingSession",
        "MeetingCard",
        "Agenda",
        "LocationBoard",
    ]
    assert all("0 views rewritten, 0 deleted, 0 held back, 0 failed" in line for line in lines)


def test_an_interrupted_rebuild_resumes_after_its_cursor_and_restart_starts_over(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    damage_sessions(db)
    calls = spy_on_batches(monkeypatch)

    def stop(report: Any) -> None:
        raise Interrupted(report.cursor)

    with pytest.raises(Interrupted):
        rebuild(MeetingSession, db, batch=2, progress=stop)
    first = rebuild_ref(db, "MeetingSession").get().to_dict() or {}
    assert first["cursor"] == calls[0][-1] and first["finishedAt"] is None

    calls.clear()
    report = rebuild(MeetingSession, db, batch=2)
    done = [key for batch in calls for key in batch]
    assert report.resumed and report.run == first["run"]
    assert min(done) > first["cursor"] and len(done) == MEETINGS - 2  # nothing redone
    assert (report.status, report.aggregates, report.total) == (REBUILT, MEETINGS, MEETINGS)
    assert (report.rewritten, report.deleted) == (3, 1)  # counted over both calls
    assert wrong(MeetingSession, db) == (0, 0, 0)

    with pytest.raises(Interrupted):
        rebuild(MeetingSession, db, batch=2, progress=stop)
    again = rebuild(MeetingSession, db, restart=True)
    assert not again.resumed and again.run != first["run"]
    assert (again.processed, again.aggregates, again.rewritten) == (MEETINGS, MEETINGS, 0)


def test_a_failed_key_keeps_the_run_unfinished_until_a_rerun_rebuilds_it(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db.document("meetingCards/kickoff").delete()
    db.document("meetingCards/offsite").delete()
    capsys.readouterr()
    assert main(["rebuild", "--app", "tests.test_rebuild:BROKEN"]) == 1
    lines, err = _printed(capsys)
    assert lines[0].startswith("MeetingCard: incomplete (new run ")
    assert "1 failed" in lines[0]
    assert "MeetingCard/kickoff not rebuilt: BuildFailed: " in err
    assert "cannot build kickoff" in err
    assert "run the same command again: it resumes" in err
    assert not db.document("meetingCards/kickoff").get().exists
    assert db.document("meetingCards/offsite").get().exists

    calls = spy_on_batches(monkeypatch)
    report = rebuild(BrokenCard, db)  # still broken: only the failed key is retried
    assert calls == [["kickoff"]] and report.status == INCOMPLETE and report.resumed

    calls.clear()
    fixed = rebuild(RealCard, db)  # the fix: the same run goes on
    assert calls == [["kickoff"]] and fixed.resumed
    assert (fixed.status, fixed.failed, fixed.aggregates) == (REBUILT, 0, MEETINGS)
    assert db.document("meetingCards/kickoff").get().exists
    # The other eight still have the broken declaration's shape; the next run (the last one
    # finished) rebuilds them too.
    assert wrong(RealCard, db) == (MEETINGS - 1, 0, 0)
    again = rebuild(RealCard, db)
    assert not again.resumed and (again.rewritten, again.status) == (MEETINGS - 1, REBUILT)
    assert wrong(RealCard, db) == (0, 0, 0)


def test_a_second_rebuild_of_one_view_at_once_is_stopped(db: firestore.Client) -> None:
    def another(report: Any) -> None:
        if report.processed == 2:
            rebuild(MeetingSession, db, restart=True)  # replaces the run meanwhile

    with pytest.raises(BoilerError) as raised:
        rebuild(MeetingSession, db, batch=2, progress=another)
    assert raised.value.code == "rebuild-concurrent"
    assert "another rebuild of this view is running" in str(raised.value)


def test_unknown_views_and_bad_options_exit_2_naming_the_fix(
    db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rebuild", "--app", "meeting_room", "MeetingSessions"]) == 2
    err = capsys.readouterr().err
    assert "no view named 'MeetingSessions'" in err and "MeetingSession, " in err
    assert "[unknown-view]" in err
    with pytest.raises(SystemExit) as exited:
        main(["rebuild", "--app", "meeting_room", "--batch", "0"])
    assert exited.value.code == 2 and "expected 1..499" in capsys.readouterr().err


def test_distributed_without_a_task_queue_says_how_to_get_one(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLOUD_TASKS_EMULATOR_HOST", raising=False)
    args = ["rebuild", "--app", "meeting_room", "Agenda", "--distributed"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "CLOUD_TASKS_EMULATOR_HOST" in err and "[task-queue-unavailable]" in err


def test_an_invalid_source_holds_its_aggregates_back_and_the_cli_says_where_to_look(
    db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = db.document("users/alice")
    alice.update({"hearingAidRequested": "not a bool"})
    before = {
        s.reference.path: s.to_dict() for s in db.collection("users/alice/meetingSessions").stream()
    }
    assert before
    for path in before:
        db.document(path).update({"title": "stale"})
    capsys.readouterr()
    assert main(["rebuild", "--app", "meeting_room", "MeetingSession"]) == 0
    (line,), err = _printed(capsys)
    held = int(line.split(" held back")[0].rsplit(" ", 1)[1])
    assert held > 0 and "0 failed" in line
    assert f"MeetingSession: {held} aggregate(s) held back" in err and "_boilerErrors" in err
    # Held back: alice's sessions are left as they were, not half-built.
    assert all(
        s.to_dict()["title"] == "stale"  # type: ignore[index]
        for s in db.collection("users/alice/meetingSessions").stream()
    )
