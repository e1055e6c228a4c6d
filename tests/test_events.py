"""boiler.testing.events: CloudEvents firebase-functions decodes back to the same values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from boiler.testing.events import binary_headers, deliver, document_written_event
from firebase_functions import firestore_fn

VALUES: dict[str, Any] = {
    "title": "Standup",
    "count": 3,
    "ratio": 1.5,
    "flag": True,
    "none": None,
    "ids": ["u1", "u2"],
    "nested": {"a": {"b": [1, "x", False]}},
    "at": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
}


def _decode(event: Any) -> firestore_fn.Event[Any]:
    seen: list[firestore_fn.Event[Any]] = []

    @firestore_fn.on_document_written(document="meetings/{meetingId}")
    def probe(received: firestore_fn.Event[Any]) -> None:
        seen.append(received)

    deliver(probe, event)
    assert len(seen) == 1
    return seen[0]


def test_round_trip_through_firebase_functions(firestore: Any) -> None:
    event = document_written_event(
        "meetings/m1", {"title": "Old"}, VALUES, event_id="e-1", project="demo-test"
    )
    received = _decode(event)
    assert received.id == "e-1"
    assert received.document == "meetings/m1"
    assert received.params == {"meetingId": "m1"}
    assert received.data.before.to_dict() == {"title": "Old"}
    after = received.data.after.to_dict()
    assert {k: v for k, v in after.items() if k != "at"} == {
        k: v for k, v in VALUES.items() if k != "at"
    }
    assert after["at"] == VALUES["at"]


def test_create_and_delete_have_missing_sides(firestore: Any) -> None:
    created = _decode(
        document_written_event("meetings/m1", None, {"title": "New"}, project="demo-test")
    )
    assert created.data.before is None
    assert created.data.after.to_dict() == {"title": "New"}
    deleted = _decode(
        document_written_event("meetings/m1", {"title": "New"}, None, project="demo-test")
    )
    assert deleted.data.after is None
    assert deleted.data.before.to_dict() == {"title": "New"}


def test_binary_mode_headers() -> None:
    event = document_written_event(
        "meetings/m1", None, {"title": "x"}, event_id="e-2", project="demo-test"
    )
    headers = binary_headers(event)
    assert headers["content-type"] == "application/protobuf"
    assert headers["ce-id"] == "e-2"
    assert headers["ce-type"] == "google.cloud.firestore.document.v1.written"
    assert headers["ce-document"] == "meetings/m1"
    assert isinstance(event.get_data(), bytes)
