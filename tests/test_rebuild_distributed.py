"""The distributed rebuild in firebase-tools' emulators: `boiler rebuild --distributed` shards
a view's keys, the tasks emulator delivers one task per shard to the real ``boilerRebuild``
function, and the command sums the shards' counts. An interrupted run (planned, never
enqueued) resumes; a shard of a replaced run or one already done is left alone."""

from __future__ import annotations

from typing import Any

import pytest
from boiler import compile_app
from boiler.cli import main
from boiler.runtime import rebuild_distributed as sharded
from boiler.testing import oracle, wait_until
from google.cloud import firestore
from meeting_room import MeetingSession, app
from meeting_room.seed import seed

from .view_walks import damage_sessions

pytestmark = pytest.mark.suite
TIMEOUT = 60
MEETINGS = 9


def wrong(db: firestore.Client) -> tuple[int, int, int]:
    counts = oracle.wrong_views(MeetingSession, db)
    return counts["wrong"], counts["missing"], counts["extra"]


@pytest.fixture
def world(
    suite_firestore: firestore.Client, emulator_suite: Any, monkeypatch: pytest.MonkeyPatch
) -> firestore.Client:
    """The demo data with every session view built by the live triggers, then damaged: two
    copies deleted, one changed, one left over for a user not in its meeting."""
    db = suite_firestore
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", emulator_suite.host("tasks"))
    seed(db)
    wait_until(lambda: wrong(db) == (0, 0, 0), timeout=TIMEOUT, message="views built by triggers")
    damage_sessions(db)
    assert wrong(db) == (1, 2, 1)
    return db


def _summary(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if not line.startswith("{")]


def test_the_shards_run_as_tasks_and_repair_every_view_with_counts(
    world: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["rebuild", "--app", "meeting_room", "MeetingSession", "--distributed"]
    capsys.readouterr()
    assert main([*command, "--shard-keys", "2", "--timeout", str(TIMEOUT)]) == 0
    (line,) = _summary(capsys)
    assert line.startswith("MeetingSession: rebuilt (new run ")
    assert line.endswith(
        f"distributed), 5/5 shards, {MEETINGS}/{MEETINGS} aggregates, 3 views rewritten, "
        "1 deleted, 0 held back, 0 failed"
    )
    assert wrong(world) == (0, 0, 0)
    shards = [s.to_dict() or {} for s in sharded.shards_of(world, "MeetingSession").stream()]
    outcomes = [s.to_dict() or {} for s in sharded.outcomes_of(world, "MeetingSession").stream()]
    assert len(shards) == 5 and [o["state"] for o in outcomes] == [sharded.DONE] * 5
    assert sorted(key for s in shards for key in s["keys"]) == sorted(
        s.id for s in world.collection("meetings").stream()
    )
    # The planner handed each shard its keys' stored views: no task listed the whole view.
    assert all(s["paths"] is not None for s in shards)

    # Finished: the next run is new, and finds nothing to repair.
    assert main([*command, "--timeout", str(TIMEOUT)]) == 0
    (line,) = _summary(capsys)
    assert "new run" in line and "1/1 shards" in line and "0 views rewritten, 0 deleted" in line


def test_an_interrupted_run_resumes_with_the_shards_not_done(
    world: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command died after planning: shards recorded, no task enqueued.
    run = sharded.plan(MeetingSession, world, shard_keys=4)
    assert (run.shards, run.total, run.resumed) == (3, MEETINGS, False)
    # One shard ran meanwhile (as a task would): the rerun does not enqueue it again.
    build = compile_app(app)
    first = {"view": "MeetingSession", "run": run.run, "shard": "0"}
    assert sharded.run_shard(build, first, world) == sharded.DONE
    assert sharded.run_shard(build, first, world) == "already"

    resumed = sharded.plan(MeetingSession, world)
    assert (resumed.run, resumed.resumed, resumed.to_enqueue) == (run.run, True, ["1", "2"])
    capsys.readouterr()
    command = ["rebuild", "--app", "meeting_room", "MeetingSession", "--distributed"]
    assert main([*command, "--timeout", str(TIMEOUT)]) == 0
    (line,) = _summary(capsys)
    assert line.startswith(f"MeetingSession: rebuilt (resumed {run.run}, distributed), 3/3")
    assert "3 views rewritten, 1 deleted" in line
    assert wrong(world) == (0, 0, 0)

    # A task of a run that a later one replaced finds its shard gone or renamed: it stops.
    stale = {"view": "MeetingSession", "run": run.run, "shard": "1"}
    sharded.plan(MeetingSession, world, restart=True)
    assert sharded.run_shard(build, stale, world) == "obsolete"


def test_a_task_with_a_payload_not_ours_fails_loudly(suite_firestore: firestore.Client) -> None:
    with pytest.raises(ValueError, match="not a boilerRebuild payload"):
        sharded.run_shard(compile_app(app), {"view": "Nope", "shard": "0"}, suite_firestore)
