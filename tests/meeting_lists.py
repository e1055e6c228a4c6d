"""The second part of the meeting room, recomputed from the domain documents alone (DESIGN.md,
"Meeting room, second part"), and a driver that runs every affected trigger in-process.

The expectation is written from the data contract, not from boiler's aggregates: a list
sorted in Python over every meeting, counts by scanning them all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from boiler import compile_app
from boiler.runtime.tally_pipeline import pipeline_for
from google.cloud import firestore
from meeting_room import app

BUILD = compile_app(app)


def _by_start(item: tuple[str, dict[str, Any]]) -> tuple[Any, ...]:
    meeting_id, meeting = item
    starts = meeting.get("startsAt")
    return (starts is None, starts or dt.datetime.min.replace(tzinfo=dt.UTC), meeting_id)


def expected_lists(db: firestore.Client) -> dict[str, dict[str, Any]]:
    """Every agenda and location board the domain documents call for, by path."""
    users = {s.id for s in db.collection("users").stream()}
    locations = {s.id: s.to_dict() or {} for s in db.collection("locations").stream()}
    meetings = {s.id: s.to_dict() or {} for s in db.collection("meetings").stream()}
    attending = {
        meeting_id: sum(
            bool((t.to_dict() or {}).get("attendance"))
            for t in db.collection(f"meetings/{meeting_id}/tickets").stream()
        )
        for meeting_id in meetings
    }
    ordered = sorted(meetings.items(), key=_by_start)

    def address(meeting: dict[str, Any]) -> Any:
        location = locations.get(meeting.get("locationId") or "")
        return None if location is None else location.get("address")

    views: dict[str, dict[str, Any]] = {}
    for uid in users:
        mine = [
            (mid, m)
            for mid, m in ordered
            if uid in m.get("participantIds", []) and m.get("status", "not-started") != "closed"
        ]
        views[f"agendas/{uid}"] = {
            "uid": uid,
            "meetings": [
                {
                    "meetingId": mid,
                    "title": m["title"],
                    "status": m.get("status", "not-started"),
                    "startsAt": m.get("startsAt"),
                    "address": address(m),
                }
                for mid, m in mine[:50]
            ],
            "numUpcoming": len(mine),
        }
    for location_id, location in locations.items():
        here = [(mid, m) for mid, m in ordered if m.get("locationId") == location_id]
        live = [(mid, m) for mid, m in here if m.get("status") == "in-session"]
        views[f"locationBoards/{location_id}"] = {
            "locationId": location_id,
            "address": location["address"],
            "meetingsTotal": len(here),
            "meetingsInSession": len(live),
            "attendingInSession": sum(attending[mid] for mid, _ in live),
            "next": [
                {"meetingId": mid, "title": m["title"], "startsAt": m.get("startsAt")}
                for mid, m in here
                if m.get("status", "not-started") == "not-started"
            ][:3],
        }
    return views


def stored_lists(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {
        s.reference.path: s.to_dict() or {}
        for collection in ("agendas", "locationBoards")
        for s in db.collection(collection).stream()
    }


def deliver(db: firestore.Client, path: str, event_id: str | None = None) -> list[Any]:
    """Run every trigger listening to ``path`` (one event), then the triggers of the views
    they wrote, as the functions emulator would; returns the outcomes."""
    outcomes = []
    for trigger in BUILD.triggers:
        if trigger.source.template.match(path) is None:
            continue
        pipeline = pipeline_for(trigger, client=db)
        outcomes.append(pipeline.handle(event_id or uuid.uuid4().hex, path))
        if trigger.view.__name__ == "MeetingCard" and path.startswith("meetings/"):
            outcomes += deliver(db, f"meetingCards/{path.split('/')[1]}")
        if trigger.view.__name__ == "MeetingCard" and path.startswith("locations/"):
            for card in db.collection("meetingCards").stream():
                outcomes += deliver(db, card.reference.path)
    return outcomes
