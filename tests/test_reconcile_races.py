"""Every write reconcile makes is guarded: a rebuild racing it never loses its fresh views.

Each test pauses reconcile between its reads and its commit (``before_commit``), lets the
real pipeline rebuild a recreated meeting there, then lets reconcile's commit go ahead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from boiler import compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.chunks import WRITE_BUDGET
from boiler.runtime.pipeline import Pipeline
from boiler.runtime.reconcile import reconcile
from google.cloud import firestore
from meeting_room import MeetingSession, app

from .meeting_fixtures import create_meeting, view

BUILD = compile_app(app)
USERS = ("u1", "u2", "u3")


def _build(db: firestore.Client, meeting_id: str = "m1") -> None:
    trigger = BUILD.trigger("meeting_session_on_meeting")
    outcome = Pipeline(trigger, client=db).handle(str(uuid.uuid4()), f"meetings/{meeting_id}")
    assert outcome.status == "applied"


def _recreate_at(call: int, db: firestore.Client, calls: list[str]) -> Callable[[str], None]:
    """A ``before_commit`` hook: on its ``call``-th call the meeting comes back and is rebuilt."""

    def hook(key: str) -> None:
        calls.append(key)
        if len(calls) == call:
            create_meeting(db, "m1")
            db.document("meetings/m1").update({"title": "Recreated"})
            _build(db)

    return hook


def _rename_at_first(db: firestore.Client, calls: list[str]) -> Callable[[str], None]:
    """A ``before_commit`` hook: on its first call the meeting is renamed and rebuilt."""

    def hook(key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            db.document("meetings/m1").update({"title": "Recreated"})
            _build(db)

    return hook


def _assert_fresh_views_and_agreeing_record(db: firestore.Client) -> None:
    assert all((view(db, uid) or {}).get("title") == "Recreated" for uid in USERS)
    record = bookkeeping.aggregate_ref(db, "MeetingSession", "m1").get()
    assert record.exists and "unsynced" not in (record.to_dict() or {})
    stored = {snap.reference.path for snap in db.collection_group("meetingSessions").stream()}
    assert set(record.get("views")) == stored == {f"users/{u}/meetingSessions/m1" for u in USERS}
    again = reconcile(MeetingSession, db)  # and a from-scratch rebuild agrees
    assert (again.repaired, again.records_refreshed, again.failed) == (0, 0, 0), again.as_dict()


def test_orphan_deletes_without_a_record_lose_to_a_recreated_meeting(
    firestore: firestore.Client,
) -> None:
    create_meeting(firestore, "m1")
    _build(firestore)
    # Views left behind with neither root nor record: only their own versions can guard them.
    firestore.document("meetings/m1").delete()
    bookkeeping.aggregate_ref(firestore, "MeetingSession", "m1").delete()
    calls: list[str] = []

    report = reconcile(MeetingSession, firestore, before_commit=_recreate_at(1, firestore, calls))

    assert calls == ["m1", "m1"]  # the first commit lost the race and was retried
    assert report.orphans == 0 and report.failed == 0, report.as_dict()
    _assert_fresh_views_and_agreeing_record(firestore)


def test_deletes_guarded_by_the_record_lose_to_a_recreated_meeting(
    firestore: firestore.Client,
) -> None:
    create_meeting(firestore, "m1")
    _build(firestore)
    firestore.document("meetings/m1").delete()  # its event never ran: record and views remain
    calls: list[str] = []

    report = reconcile(MeetingSession, firestore, before_commit=_recreate_at(1, firestore, calls))

    assert calls == ["m1", "m1"]
    assert report.orphans == 0 and report.failed == 0, report.as_dict()
    _assert_fresh_views_and_agreeing_record(firestore)


def test_chunked_orphan_deletes_stop_when_a_recreated_meeting_takes_over(
    firestore: firestore.Client,
) -> None:
    # More orphans than one commit holds: the first commit leaves a tombstone record listing
    # the rest; the pipeline rebuilds the recreated meeting between two follow-up commits.
    orphans = [f"users/x{i:03}/meetingSessions/m1" for i in range(WRITE_BUDGET + 20)]
    batch = firestore.batch()
    for count, path in enumerate([*orphans, *(f"users/{u}/meetingSessions/m1" for u in USERS)]):
        batch.set(firestore.document(path), {"title": "left behind"})
        if count % 400 == 399:
            batch.commit()
            batch = firestore.batch()
    batch.commit()
    calls: list[str] = []

    report = reconcile(MeetingSession, firestore, before_commit=_recreate_at(2, firestore, calls))

    # The first commit; the follow-up, which lost the race; its retry, finding a newer version.
    assert calls == ["m1", "m1", "m1"]
    assert report.failed == 0, report.as_dict()
    _assert_fresh_views_and_agreeing_record(firestore)


@pytest.mark.parametrize(
    "record_lost",
    [False, True],
    ids=["guarded-by-an-unchanged-record", "creating-the-record"],
)
def test_stale_rewrites_lose_to_a_rename(firestore: firestore.Client, record_lost: bool) -> None:
    create_meeting(firestore, "m1")
    _build(firestore)
    if record_lost:  # reconcile's commit then creates the record (must not exist)
        bookkeeping.aggregate_ref(firestore, "MeetingSession", "m1").delete()
    # Otherwise the record is right and one view is not: reconcile's commit writes the view alone.
    firestore.document("users/u2/meetingSessions/m1").update({"title": "tampered"})
    calls: list[str] = []

    report = reconcile(MeetingSession, firestore, before_commit=_rename_at_first(firestore, calls))

    assert calls == ["m1", "m1"]
    assert report.stale == 0 and report.failed == 0, report.as_dict()
    _assert_fresh_views_and_agreeing_record(firestore)
