"""Aggregates near Firestore's 1 MiB document limit keep working: records cache only declared
fields, drop their cache when it would not fit (reported once, with the numbers), and a view
that would not fit holds back only its own aggregate."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boiler import compile_app
from boiler.runtime import bookkeeping, sizes
from boiler.runtime.pipeline import Outcome, Pipeline
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from meeting_room import MeetingSession, app

from .meeting_fixtures import PEOPLE, attending, create_meeting, view

BUILD = compile_app(app)
AVATAR = "x" * 400_000  # a field no model declares


def deliver(db: firestore.Client, source: str, document: str) -> Outcome:
    trigger = BUILD.trigger(f"meeting_session_on_{source}")
    return Pipeline(trigger, client=db).handle(uuid.uuid4().hex, document)


def record(db: firestore.Client, key: str) -> firestore.DocumentSnapshot:
    return bookkeeping.aggregate_ref(db, "MeetingSession", key).get()


def errors(db: firestore.Client) -> list[dict[str, Any]]:
    return [snap.to_dict() or {} for snap in db.collection(bookkeeping.ERRORS).stream()]


def crowd(
    db: firestore.Client, meeting_id: str, count: int, attend: int, organization: str
) -> None:
    """A meeting of ``count`` people with a long (declared) organization, ``attend`` attending."""
    uids = [f"p{n:03}" for n in range(count)]
    for start in range(0, count, 200):
        batch = db.batch()
        for n, uid in enumerate(uids[start : start + 200], start):
            batch.set(db.document(f"users/{uid}"), {**PEOPLE["u1"], "organization": organization})
            ticket = {"role": "participant", "attendance": n < attend}
            batch.set(db.document(f"meetings/{meeting_id}/tickets/{uid}"), ticket)
        batch.commit()
    db.document("locations/l1").set({"address": "1 Main St", "latitude": 1.0, "longitude": 2.0})
    db.document(f"meetings/{meeting_id}").set(
        {"title": "All hands", "locationId": "l1", "status": "in-session", "participantIds": uids}
    )


def test_undeclared_fields_are_not_cached(firestore: firestore.Client) -> None:
    db = firestore
    create_meeting(db)
    for uid in ("u1", "u2", "u3"):
        db.document(f"users/{uid}").update({"avatar": AVATAR})
    deliver(db, "meeting", "meetings/m1")
    for uid in ("u2", "u3", "u1"):  # before: the third avatar pushed the record past 1 MiB
        db.document(f"users/{uid}").update({"lastName": "Avatar", "avatar": AVATAR + uid})
        assert deliver(db, "user", f"users/{uid}").invalid == []
    snapshot = record(db, "m1")
    assert "avatar" not in str(snapshot.to_dict())
    assert sizes.document_size(snapshot.reference.path, snapshot.to_dict() or {}) < 10_000
    assert {a["name"] for a in view(db, "u1")["attending"]} == {"Ann Avatar", "Bo Avatar"}  # type: ignore[index]
    assert errors(db) == []


@pytest.fixture
def big_meeting(firestore: firestore.Client) -> firestore.Client:
    # 300 profiles of ~4 KB: ~1.2 MB of cached sources, views of 5 attendees (~20 KB each).
    crowd(firestore, "big", 300, attend=5, organization="o" * 4_000)
    outcome = deliver(firestore, "meeting", "meetings/big")
    assert (outcome.invalid, outcome.views_written) == ([], 300)
    return firestore


def test_an_aggregate_too_large_to_cache_is_reported_once_and_keeps_following(
    big_meeting: firestore.Client,
) -> None:
    db = big_meeting
    snapshot = record(db, "big")
    assert snapshot.get("uncached") is True and "sources" not in (snapshot.to_dict() or {})
    [error] = errors(db)
    assert error["kind"] == "uncached" and error["recordBytes"] > error["budgetBytes"]
    assert error["sourceDocuments"] > 300 and "rereads the whole aggregate" in error["error"]
    # Every change still reaches the views, exactly.
    db.document("meetings/big/tickets/p299").update({"attendance": True})
    deliver(db, "ticket", "meetings/big/tickets/p299")
    db.document("users/p000").update({"firstName": "Zed"})
    deliver(db, "user", "users/p000")
    assert attending(db, "p100", "big") == ["p000", "p001", "p002", "p003", "p004", "p299"]
    assert view(db, "p100", "big")["attending"][0]["name"] == "Zed Lee"  # type: ignore[index]
    assert len(errors(db)) == 1  # reported once, not per event
    # Shrunk back under the budget: cached again, the report withdrawn.
    db.document("meetings/big").update({"participantIds": ["p000", "p001"]})
    deliver(db, "meeting", "meetings/big")
    assert "sources" in (record(db, "big").to_dict() or {}) and errors(db) == []
    assert stored_views(MeetingSession, db) == expected_views(MeetingSession, db)


def test_a_view_too_large_holds_back_only_its_aggregate(big_meeting: firestore.Client) -> None:
    db = big_meeting
    create_meeting(db, "small", {"u1": True, "p000": True})
    deliver(db, "meeting", "meetings/small")
    batch = db.batch()  # everyone attends: each view would list 300 x 4 KB
    for n in range(300):
        batch.update(db.document(f"meetings/big/tickets/p{n:03}"), {"attendance": True})
    batch.commit()
    db.document("meetings/big").update({"title": "Too big"})
    outcome = deliver(db, "meeting", "meetings/big")
    assert "over Firestore's" in str(outcome.invalid[0])
    assert view(db, "p100", "big")["title"] == "All hands"  # type: ignore[index]
    db.document("users/p000").update({"firstName": "Zed"})  # fans out to big and small
    assert deliver(db, "user", "users/p000").aggregates == 2
    assert attending(db, "u1", "small") == ["p000", "u1"]
    assert view(db, "u1", "small")["attending"][0]["name"] == "Zed Lee"  # type: ignore[index]
    assert any(e.get("kind") == "build-failed" and e["key"] == "big" for e in errors(db))
    db.document("meetings/big").update({"participantIds": [f"p{n:03}" for n in range(50)]})
    deliver(db, "meeting", "meetings/big")
    assert view(db, "p001", "big")["title"] == "Too big"  # type: ignore[index]
    assert not any(e.get("kind") == "build-failed" for e in errors(db))
    assert stored_views(MeetingSession, db) == expected_views(MeetingSession, db)
