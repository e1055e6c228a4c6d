"""Contention: 50 participants toggle attendance in the same second on one meeting.

Every toggle is a real CloudEvent delivered to the real decorated function (functions/main.py)
on its own thread; all rebuild the same aggregate at once. Each must commit within
``Options.max_retries`` attempts (or hand over to the durable path), and every view must end exact.
"""

from __future__ import annotations

import statistics
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from boiler.connectors.firebase import export_functions
from boiler.runtime import bookkeeping
from boiler.runtime.client import use_client
from boiler.runtime.options import FaultHook, Options
from boiler.runtime.pipeline import Outcome
from boiler.testing.events import deliver, document_written_event
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from meeting_room import MeetingSession, app

PARTICIPANTS = 50


Functions = Callable[..., Any]


@pytest.fixture
def outcomes() -> dict[str, Outcome]:
    """The last Outcome of each event, captured at its commits (by ``functions``' hook)."""
    return {}


@pytest.fixture
def functions(
    firestore: firestore.Client, monkeypatch: pytest.MonkeyPatch, outcomes: dict[str, Outcome]
) -> Iterator[Functions]:
    """``make(one_instance=False, faults=None)``: the deployable functions, run in-process."""
    monkeypatch.setenv("GCLOUD_PROJECT", firestore.project)
    use_client(firestore)
    lock = threading.Lock()

    def record(step: str, outcome: Any) -> None:
        if step == "after_commit":
            with lock:
                outcomes[outcome.event_id] = outcome

    def make(one_instance: bool = False, faults: FaultHook | None = None) -> Any:
        # One aggregate per commit (many commits per fan-out); unless ``one_instance``, the
        # threads stand in for separate function instances: they race on one aggregate.
        options = Options(
            group_size=1, serialize_local_events=one_instance, faults=faults or record
        )
        return SimpleNamespace(**export_functions(app, options=options))

    yield make
    use_client(None)


@pytest.mark.parametrize("one_instance", [False, True], ids=["many-instances", "one-instance"])
def test_fifty_concurrent_toggles_all_apply_and_every_view_is_right(
    firestore: firestore.Client,
    functions: Functions,
    outcomes: dict[str, Outcome],
    one_instance: bool,
) -> None:
    # One instance handling all 50 at once serialises them per aggregate: no race, no retry.
    deployed = functions(one_instance=one_instance)
    uids = [f"u{n:02d}" for n in range(PARTICIPANTS)]
    batch = firestore.batch()
    for n, uid in enumerate(uids):
        user = {
            "firstName": uid,
            "lastName": "X",
            "organization": "Acme",
            "hearingAidRequested": n % 5 == 0,
        }
        batch.set(firestore.document(f"users/{uid}"), user)
        batch.set(
            firestore.document(f"meetings/m1/tickets/{uid}"),
            {"role": "participant", "attendance": False},
        )
    meeting = {
        "title": "Standup",
        "locationId": "l1",
        "status": "in-session",
        "participantIds": uids,
    }
    batch.set(firestore.document("meetings/m1"), meeting)
    batch.commit()
    deliver(
        deployed.meeting_session_on_meeting, document_written_event("meetings/m1", None, meeting)
    )
    outcomes.clear()

    events = []
    for uid in uids:  # everyone says "I'm here" within the same second
        firestore.document(f"meetings/m1/tickets/{uid}").update({"attendance": True})
        before, after = (
            {"role": "participant", "attendance": False},
            {"role": "participant", "attendance": True},
        )
        events.append(
            document_written_event(
                f"meetings/m1/tickets/{uid}", before, after, event_id=str(uuid.uuid4())
            )
        )
    barrier = threading.Barrier(PARTICIPANTS)

    def toggle(event: Any) -> None:
        barrier.wait()
        deliver(deployed.meeting_session_on_ticket, event)

    with ThreadPoolExecutor(PARTICIPANTS) as pool:
        list(pool.map(toggle, events))

    assert not list(firestore.collection(bookkeeping.PENDING).limit(1).stream()), (
        "an event needed the durable path"
    )
    views = stored_views(MeetingSession, firestore)
    assert views == expected_views(MeetingSession, firestore)
    assert (
        all(view["numAttending"] == PARTICIPANTS for view in views.values())
        and len(views) == PARTICIPANTS
    )
    # Every event applied: by its own commit (marked in the record) or covered by a commit
    # that won the race and already held its change.
    statuses = {event["id"]: outcomes[event["id"]].status for event in events}
    committed = [e for e in events if statuses[e["id"]] == "applied"]
    covered = [e for e in events if outcomes[e["id"]].covered]
    assert len(committed) + len(covered) == len(events), statuses
    record = bookkeeping.aggregate_ref(firestore, "MeetingSession", "m1").get()
    marked = {bookkeeping.event_mark("meeting_session_on_ticket", e["id"]) for e in events}
    assert len(marked & set(record.get("applied"))) == min(len(committed), bookkeeping.MARKS_KEPT)
    retries = [outcomes[event["id"]].retries for event in events if event["id"] in outcomes]
    assert len(retries) == PARTICIPANTS and max(retries) < Options().max_retries
    if one_instance:
        assert max(retries) == 0
    print(
        f"covered: {len(covered)}, "
        f"retries per event: mean {statistics.mean(retries):.2f}, max {max(retries)}, "
        f"total attempts {sum(o.attempts for o in outcomes.values())}"
    )


def test_two_deliveries_of_one_event_racing_apply_it_once(
    firestore: firestore.Client, functions: Functions
) -> None:
    user = {
        "firstName": "Ann",
        "lastName": "Lee",
        "organization": "Acme",
        "hearingAidRequested": False,
    }
    firestore.document("users/u1").set(user)
    meeting = {"title": "Standup", "locationId": "", "participantIds": ["u1"]}
    firestore.document("meetings/m1").set(meeting)
    firestore.document("meetings/m1/tickets/u1").set({"attendance": True})
    event = document_written_event("meetings/m1", None, meeting, event_id="same-event")
    commits: list[str] = []
    lock = threading.Lock()

    def hook(step: str, outcome: Any) -> None:
        if step == "after_commit":
            with lock:
                commits.append(outcome.status)

    deployed = functions(faults=hook)
    barrier = threading.Barrier(8)

    def race(_: int) -> None:
        barrier.wait()
        deliver(deployed.meeting_session_on_meeting, event)

    for _ in range(5):  # several rounds: the race window is small
        bookkeeping.ledger_ref(firestore, "meeting_session_on_meeting", "same-event").delete()
        bookkeeping.aggregate_ref(firestore, "MeetingSession", "m1").delete()
        firestore.document("users/u1/meetingSessions/m1").delete()
        commits.clear()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(race, range(8)))
        assert len(commits) == 1, commits  # exactly one delivery committed; the rest saw the ledger
        assert stored_views(MeetingSession, firestore) == expected_views(MeetingSession, firestore)
        assert not list(firestore.collection(bookkeeping.PENDING).limit(1).stream())
