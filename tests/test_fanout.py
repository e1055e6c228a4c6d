"""Fan-out at scale: one change reaching 1,000+ views is split into commits under Firestore's
500-write limit, completes, resumes after a crash, and runs in flat memory."""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from boiler import compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.options import Options
from boiler.runtime.pipeline import Outcome, Pipeline
from boiler.runtime.redrive import redrive_all
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch
from meeting_room import MeetingSession, app

BUILD = compile_app(app)
MEETINGS = 1_000


def _pipeline(db: firestore.Client, source: str, options: Options | None = None) -> Pipeline:
    return Pipeline(BUILD.trigger(f"meeting_session_on_{source}"), client=db, options=options)


def _bulk(db: firestore.Client, docs: dict[str, dict[str, Any]]) -> None:
    items = list(docs.items())
    for start in range(0, len(items), 400):
        batch = db.batch()
        for path, data in items[start : start + 400]:
            batch.set(db.document(path), data)
        batch.commit()


def _user(uid: str) -> dict[str, Any]:
    return {
        "firstName": uid.upper(),
        "lastName": "Doe",
        "organization": "Acme",
        "hearingAidRequested": False,
    }


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of writes of every commit the runtime sends (batches: optimistic attempts)."""
    sizes: list[int] = []
    original = WriteBatch.commit

    def counting(self: WriteBatch, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(self._write_pbs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WriteBatch, "commit", counting)
    yield sizes


def test_rename_reaching_1000_meetings_is_chunked_complete_and_flat(
    firestore: firestore.Client, commits: list[int]
) -> None:
    docs: dict[str, dict[str, Any]] = {
        "users/star": _user("star"),
        "locations/l1": {"address": "1 Main St", "latitude": 1.0, "longitude": 2.0},
    }
    for n in range(MEETINGS):
        docs[f"users/p{n}"] = _user(f"p{n}")
        docs[f"meetings/m{n}"] = {
            "title": f"M{n}",
            "locationId": "l1",
            "participantIds": ["star", f"p{n}"],
        }
        docs[f"meetings/m{n}/tickets/star"] = {"attendance": True}
    _bulk(firestore, docs)
    build = _pipeline(firestore, "meeting")
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(lambda n: build.handle(f"create-{n}", f"meetings/m{n}"), range(MEETINGS))
        )
    assert all(o.status == "applied" for o in outcomes)
    commits.clear()

    firestore.document("users/star").update({"firstName": "Stella"})
    tracemalloc.start()
    started = time.monotonic()
    outcome = _pipeline(firestore, "user").handle("rename-1", "users/star")
    seconds = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"fan-out: {outcome.views_written} views in {seconds:.1f}s, {len(commits)} commits, "
        f"largest {max(commits)} writes, peak {peak / 1e6:.1f} MB"
    )

    assert outcome.status == "applied" and outcome.aggregates == MEETINGS
    assert outcome.views_written == 2 * MEETINGS
    assert max(commits) < 500 and len(commits) >= 2 * MEETINGS // 450
    assert peak < 40e6  # one group of GROUP_SIZE aggregates at a time, not all 1,000
    views = stored_views(MeetingSession, firestore)
    assert len(views) == 2 * MEETINGS
    assert all(v["attending"][0]["name"] == "Stella Doe" for v in views.values())
    # A duplicate delivery and a second identical event write nothing.
    assert _pipeline(firestore, "user").handle("rename-1", "users/star").status == "duplicate"
    assert _pipeline(firestore, "user").handle("rename-2", "users/star").views_written == 0


@pytest.mark.parametrize("platform_retries", [True, False], ids=["redelivered", "write-ahead"])
def test_fan_out_killed_midway_is_resumed(
    firestore: firestore.Client, platform_retries: bool
) -> None:
    """Deployed with platform retries, the platform delivers the dead invocation's event
    again; without them, its write-ahead entry is found by the durable path."""
    docs: dict[str, dict[str, Any]] = {"users/star": _user("star")}
    for n in range(60):
        docs[f"meetings/m{n}"] = {"title": f"M{n}", "locationId": "", "participantIds": ["star"]}
        docs[f"meetings/m{n}/tickets/star"] = {"attendance": True}
    _bulk(firestore, docs)
    for n in range(60):
        _pipeline(firestore, "meeting").handle(f"c{n}", f"meetings/m{n}")
    firestore.document("users/star").update({"lastName": "Ray"})

    class Killed(BaseException):
        pass

    def kill_after_second_commit(step: str, outcome: Outcome) -> None:
        if step == "after_commit" and outcome.commits == 2:
            raise Killed()

    retries = Options(group_size=10, platform_retries=platform_retries)
    killing = Options(
        group_size=10, faults=kill_after_second_commit, platform_retries=platform_retries
    )
    with pytest.raises(Killed):
        _pipeline(firestore, "user", killing).handle("r", "users/star")
    names = [v["attending"][0]["name"] for v in stored_views(MeetingSession, firestore).values()]
    assert names.count("STAR Ray") == 20  # two groups of 10 committed, then the invocation died
    assert bookkeeping.ledger_ref(firestore, "meeting_session_on_user", "r").get().exists is False

    if platform_retries:  # nothing was written ahead: the platform's redelivery finishes it
        assert not list(firestore.collection(bookkeeping.PENDING).stream())
        outcome = _pipeline(firestore, "user", retries).handle("r", "users/star")
        assert outcome.status == "applied" and outcome.views_written == 40
    else:
        report = redrive_all(BUILD, firestore)
        assert report.redriven == 1 and not report.errors
    assert stored_views(MeetingSession, firestore) == expected_views(MeetingSession, firestore)
    assert bookkeeping.ledger_ref(firestore, "meeting_session_on_user", "r").get().exists


def test_meeting_with_600_participants_writes_its_views_in_chunks(
    firestore: firestore.Client, commits: list[int]
) -> None:
    uids = [f"u{n:03d}" for n in range(600)]
    docs: dict[str, dict[str, Any]] = {f"users/{uid}": _user(uid) for uid in uids}
    docs.update(
        {f"meetings/big/tickets/{uid}": {"attendance": n % 12 == 0} for n, uid in enumerate(uids)}
    )
    docs["meetings/big"] = {"title": "All hands", "locationId": "", "participantIds": uids}
    _bulk(firestore, docs)
    commits.clear()
    outcome = _pipeline(firestore, "meeting").handle("big-1", "meetings/big")
    assert outcome.status == "applied" and outcome.views_written == 600
    assert max(commits) < 500 and len(commits) >= 2
    record = bookkeeping.aggregate_ref(firestore, "MeetingSession", "big").get().to_dict()
    assert "unsynced" not in record
    assert stored_views(MeetingSession, firestore) == expected_views(MeetingSession, firestore)

    # Killed after the first chunk: the record lists the unsynced views; a newer rebuild
    # (another participant toggling) rewrites them even though it wins the race.
    firestore.document("meetings/big/tickets/u001").update({"attendance": True})

    class Killed(BaseException):
        pass

    def kill_after_first_chunk(step: str, outcome: Outcome) -> None:
        if step == "after_commit" and outcome.commits == 1:
            raise Killed()

    with pytest.raises(Killed):
        _pipeline(firestore, "ticket", Options(faults=kill_after_first_chunk)).handle(
            "t-1", "meetings/big/tickets/u001"
        )
    record = bookkeeping.aggregate_ref(firestore, "MeetingSession", "big").get().to_dict()
    assert len(record["unsynced"]) > 0
    firestore.document("meetings/big/tickets/u002").update({"attendance": True})
    assert (
        _pipeline(firestore, "ticket").handle(str(uuid.uuid4()), "meetings/big/tickets/u002").status
        == "applied"
    )
    assert (
        "unsynced"
        not in bookkeeping.aggregate_ref(firestore, "MeetingSession", "big").get().to_dict()
    )
    assert stored_views(MeetingSession, firestore) == expected_views(MeetingSession, firestore)
    # The platform delivers the killed event again: nothing left to write.
    again = _pipeline(firestore, "ticket").handle("t-1", "meetings/big/tickets/u001")
    assert again.status == "unchanged" and again.views_written == 0
    assert stored_views(MeetingSession, firestore) == expected_views(MeetingSession, firestore)
