"""Reconcile repairs drift between stored views and a from-scratch rebuild, and nothing else."""

from __future__ import annotations

import uuid

from boiler import compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.pipeline import Pipeline
from boiler.runtime.reconcile import reconcile
from google.cloud import firestore
from meeting_room import MeetingSession, app

from .meeting_fixtures import create_meeting, view

BUILD = compile_app(app)


def _build(db: firestore.Client, meeting_id: str) -> None:
    trigger = BUILD.trigger("meeting_session_on_meeting")
    assert (
        Pipeline(trigger, client=db).handle(str(uuid.uuid4()), f"meetings/{meeting_id}").status
        == "applied"
    )


def _update_times(db: firestore.Client, paths: list[str]) -> dict[str, object]:
    return {path: db.document(path).get().update_time for path in paths}


def test_repairs_corrupted_view_deletes_orphan_and_leaves_correct_views_alone(
    firestore: firestore.Client,
) -> None:
    create_meeting(firestore, "m1")
    create_meeting(firestore, "m2", participants={"u1": True, "u4": False})
    _build(firestore, "m1")
    _build(firestore, "m2")
    correct = [
        "users/u2/meetingSessions/m1",
        "users/u3/meetingSessions/m1",
        "users/u1/meetingSessions/m2",
    ]
    expected = view(firestore, "u1", "m1")
    before = _update_times(firestore, correct)

    firestore.document("users/u1/meetingSessions/m1").update(
        {"title": "tampered", "numAttending": 99}
    )
    firestore.document("users/u9/meetingSessions/m1").set({"title": "not a participant"})  # orphan
    firestore.document("users/u4/meetingSessions/m2").delete()  # lost view
    firestore.document("users/u5/meetingSessions/m404").set(
        {"title": "meeting gone"}
    )  # orphan, no root

    report = reconcile(MeetingSession, firestore)

    assert (report.stale, report.orphans) == (2, 2), report.as_dict()
    assert report.aggregates == 3 and report.views_checked == 5
    assert view(firestore, "u1", "m1") == expected
    assert view(firestore, "u4", "m2") is not None
    assert view(firestore, "u9", "m1") is None and view(firestore, "u5", "m404") is None
    assert _update_times(firestore, correct) == before  # untouched: no write at all

    again = reconcile(MeetingSession, firestore)
    assert (again.stale, again.orphans, again.records_refreshed) == (0, 0, 0), again.as_dict()


def test_refreshes_a_record_with_stale_cached_sources(firestore: firestore.Client) -> None:
    create_meeting(firestore, "m1")
    _build(firestore, "m1")
    # A rename whose event was lost: record and views still hold the old name.
    firestore.document("users/u1").update({"firstName": "Anna"})
    record = bookkeeping.aggregate_ref(firestore, "MeetingSession", "m1")
    stale_record = record.get().to_dict()
    report = reconcile(MeetingSession, firestore)
    assert report.stale == 3 and report.records_refreshed == 1
    assert view(firestore, "u2")["attending"][0]["name"] == "Anna Lee"  # type: ignore[index]
    assert record.get().get("sources")["users/u1"]["firstName"] == "Anna"
    assert stale_record["sources"]["users/u1"]["firstName"] == "Ann"
    # The next event rebuilds from the refreshed record: nothing to rewrite.
    firestore.document("meetings/m1").update({"title": "Meeting m1"})
    outcome = Pipeline(BUILD.trigger("meeting_session_on_meeting"), client=firestore).handle(
        "e", "meetings/m1"
    )
    assert outcome.views_written == 0


def test_deleted_root_views_and_record_are_removed(firestore: firestore.Client) -> None:
    create_meeting(firestore, "m1")
    _build(firestore, "m1")
    firestore.document("meetings/m1").delete()  # its event never ran
    report = reconcile(MeetingSession, firestore)
    assert report.orphans == 3 and report.records_refreshed == 1
    assert not bookkeeping.aggregate_ref(firestore, "MeetingSession", "m1").get().exists
    assert all(view(firestore, uid) is None for uid in ("u1", "u2", "u3"))


def test_cli_reconcile_and_pending(firestore: firestore.Client, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from boiler.cli import main

    monkeypatch.setenv("GCLOUD_PROJECT", firestore.project)
    create_meeting(firestore, "m1")
    _build(firestore, "m1")
    firestore.document("users/u2/meetingSessions/m1").delete()
    assert main(["reconcile", "--app", "meeting_room"]) == 0
    out, err = capsys.readouterr()
    assert '"stale": 1' in out
    assert "MeetingSession" in err and "1/1 keys" in err  # the progress bar's last state
    assert view(firestore, "u2") is not None

    # A trigger killed before its commit left only its write-ahead pending entry.
    firestore.document("meetings/m1").update({"title": "Renamed"})
    entry = {
        "kind": "view",
        "function": "meeting_session_on_meeting",
        "eventId": "e9",
        "document": "meetings/m1",
    }
    bookkeeping.pending_ref(firestore, "meeting_session_on_meeting", "e9").set(entry)
    assert main(["pending", "--app", "meeting_room", "--min-age", "0"]) == 0
    out, err = capsys.readouterr()
    assert '"redriven": 1' in out and "1/1 entries" in err
    assert view(firestore, "u2")["title"] == "Renamed"  # type: ignore[index]
    assert not list(firestore.collection(bookkeeping.PENDING).stream())
