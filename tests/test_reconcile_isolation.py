"""Reconcile isolates each aggregate: one that cannot be rebuilt never holds back the others."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boiler import compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.pipeline import Pipeline
from boiler.runtime.reconcile import reconcile
from google.cloud import firestore
from meeting_room import MeetingSession, app

from .meeting_fixtures import create_meeting, view

BUILD = compile_app(app)
MEETINGS = ("m1", "m2", "m3")


def _built_and_drifted(db: firestore.Client) -> None:
    """Three built meetings, each with one view lost afterwards (reconcile must restore them)."""
    trigger = BUILD.trigger("meeting_session_on_meeting")
    for meeting_id in MEETINGS:
        create_meeting(db, meeting_id)
        outcome = Pipeline(trigger, client=db).handle(str(uuid.uuid4()), f"meetings/{meeting_id}")
        assert outcome.status == "applied"
    for meeting_id in MEETINGS:
        db.document(f"users/u2/meetingSessions/{meeting_id}").delete()


def _build_failing_for(key: str) -> Any:
    original = MeetingSession.build.__func__  # type: ignore[attr-defined]

    def build(cls: type[MeetingSession], data: Any) -> Any:
        if data.key == key:
            raise RuntimeError(f"build cannot handle {key}")
        return original(cls, data)

    return classmethod(build)


def test_a_build_raising_for_one_key_is_reported_and_the_others_are_repaired(
    firestore: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _built_and_drifted(firestore)
    monkeypatch.setattr(MeetingSession, "build", _build_failing_for("m2"))

    report = reconcile(MeetingSession, firestore)

    assert view(firestore, "u2", "m1") is not None and view(firestore, "u2", "m3") is not None
    assert view(firestore, "u2", "m2") is None  # left as it was, not half-repaired
    assert report.aggregates == 3 and report.failed == 1 and report.stale == 2
    assert report.as_dict()["failures"] == [
        {
            "key": "m2",
            "error": "BuildFailed: MeetingSession m2: "
            "build() raised RuntimeError('build cannot handle m2')",
        }
    ]
    # Recorded like the pipeline records it: one error document for the aggregate.
    errors = [snap.to_dict() for snap in firestore.collection(bookkeeping.ERRORS).stream()]
    assert [(e["kind"], e["key"], e["function"]) for e in errors] == [
        ("build-failed", "m2", "reconcile")
    ]


@pytest.mark.parametrize("bad_id", ["a/b", "", "__x__", ".."])
def test_an_invalid_participant_id_is_reported_and_the_others_are_repaired(
    firestore: firestore.Client, bad_id: str
) -> None:
    _built_and_drifted(firestore)
    firestore.document("meetings/m2").update({"participantIds": ["u1", bad_id, "u2", "u3"]})

    report = reconcile(MeetingSession, firestore)

    assert view(firestore, "u2", "m1") is not None and view(firestore, "u2", "m3") is not None
    assert report.aggregates == 3 and report.stale == 2, report.as_dict()
    # An invalid document (the field and why), its record refreshed, its views left alone.
    assert report.failed == 0 and len(report.invalid) == 1, report.as_dict()
    assert "meetings/m2: participantIds.1" in report.invalid[0]


def test_cli_exits_1_when_an_aggregate_failed(
    firestore: firestore.Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from boiler.cli import main

    monkeypatch.setenv("GCLOUD_PROJECT", firestore.project)
    _built_and_drifted(firestore)
    working = MeetingSession.__dict__["build"]
    monkeypatch.setattr(MeetingSession, "build", _build_failing_for("m1"))

    assert main(["reconcile", "--app", "meeting_room"]) == 1
    captured = capsys.readouterr()
    assert '"failed": 1' in captured.out and '"stale": 2' in captured.out
    assert "MeetingSession/m1" in captured.err and "RuntimeError" in captured.err
    assert view(firestore, "u2", "m3") is not None

    monkeypatch.setattr(MeetingSession, "build", working)
    assert main(["reconcile", "--app", "meeting_room"]) == 0  # m1 repaired once build works
    assert view(firestore, "u2", "m1") is not None
