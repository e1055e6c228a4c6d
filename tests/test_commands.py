"""Command triggers in-process against the real Firestore emulator: applied exactly once.

Commands here are written with the admin client, i.e. past the security rules (as if a rule
had let them through, or membership changed after creation): the trigger must still reject
them with a reason and change no domain data.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from boiler import (
    App,
    Command,
    CommandContext,
    CommandMisuse,
    CommandRejected,
    DomainModel,
    compile_app,
    uid_in_path,
)
from boiler.connectors.firebase import export_functions
from boiler.runtime import bookkeeping
from boiler.runtime.client import use_client
from boiler.runtime.command_runner import CommandOutcome, CommandRunner
from boiler.testing.events import deliver, document_written_event
from google.cloud import firestore
from meeting_room import AttendanceRequest, StatusRequest, app

from .meeting_fixtures import create_meeting


def run(
    db: firestore.Client, command: type[Command], path: str, event_id: str | None = None
) -> CommandOutcome:
    return CommandRunner(command, client=db).handle(event_id or uuid.uuid4().hex, path)


def request(db: firestore.Client, path: str, data: dict[str, Any]) -> str:
    db.document(path).set(data)
    return path


@pytest.fixture
def db(firestore: firestore.Client) -> firestore.Client:
    create_meeting(firestore)  # m1 in-session; u1 host attending, u2 attending, u3 not
    return firestore


def ticket(db: firestore.Client, uid: str) -> dict[str, Any]:
    return db.document(f"meetings/m1/tickets/{uid}").get().to_dict() or {}


# -- the meeting-room commands ------------------------------------------------------------------
def test_attendance_request_sets_the_callers_ticket(db: firestore.Client) -> None:
    path = request(db, "users/u3/attendanceRequests/r1", {"meetingId": "m1", "attendance": True})
    outcome = run(db, AttendanceRequest, path)
    assert (outcome.status, outcome.reason, outcome.writes) == ("applied", None, 1)
    assert ticket(db, "u3") == {"role": "participant", "attendance": True}
    stored = db.document(path).get().to_dict()
    assert stored is not None
    assert (stored["status"], stored["reason"]) == ("applied", None)
    assert stored["processedAt"] is not None


def test_a_rejected_command_changes_no_domain_data(db: firestore.Client) -> None:
    db.document("users/u4").set({"firstName": "Di", "lastName": "Oz", "organization": "X"})
    before = {
        snap.reference.path: snap.update_time
        for snap in db.collection("meetings/m1/tickets").stream()
    }
    path = request(db, "users/u4/attendanceRequests/r1", {"meetingId": "m1", "attendance": True})
    outcome = run(db, AttendanceRequest, path)
    assert outcome.status == "rejected"
    assert outcome.reason == "you are not a participant of meeting m1"
    assert db.document(path).get().get("reason") == outcome.reason
    after = {
        snap.reference.path: snap.update_time
        for snap in db.collection("meetings/m1/tickets").stream()
    }
    assert after == before


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            {"meetingId": "m1", "attendance": True, "admin": True},
            "invalid command: admin: Extra inputs",
        ),
        (
            {"meetingId": "m1", "attendance": "yes"},
            "invalid command: attendance: Input should be a valid boolean",
        ),
        (
            {"meetingId": "m" * 129, "attendance": True},
            "invalid command: meetingId: String should have at most 128",
        ),
        ({"attendance": True}, "invalid command: meetingId: Field required"),
        ({"meetingId": "nope", "attendance": True}, "meeting nope does not exist"),
        ({"meetingId": "m1/tickets", "attendance": True}, "invalid document id for Meeting"),
    ],
)
def test_malformed_commands_are_rejected_with_a_reason(
    db: firestore.Client, data: dict[str, Any], reason: str
) -> None:
    path = request(db, "users/u3/attendanceRequests/bad", data)
    outcome = run(db, AttendanceRequest, path)
    assert outcome.status == "rejected"
    assert outcome.reason is not None and outcome.reason.startswith(reason), outcome.reason
    assert ticket(db, "u3")["attendance"] is False


def test_status_request_follows_the_life_cycle(db: firestore.Client) -> None:
    def status(new: str, by: str = "u1") -> CommandOutcome:
        path = request(
            db,
            f"meetings/m1/statusRequests/{uuid.uuid4().hex}",
            {"newStatus": new, "requestedBy": by},
        )
        return run(db, StatusRequest, path)

    assert status("closed", by="u2").reason == "only a host of meeting m1 may change its status"
    assert status("in-session").reason == "meeting m1 is already 'in-session'"
    assert status("not-started").reason == (
        "meeting m1 cannot go from 'in-session' to 'not-started'; allowed: ['closed']"
    )
    assert db.document("meetings/m1").get().get("status") == "in-session"
    assert status("closed").status == "applied"
    assert db.document("meetings/m1").get().get("status") == "closed"
    reopened = status("in-session")
    assert (reopened.status, reopened.reason) == (
        "rejected",
        "meeting m1 cannot go from 'closed' to 'in-session'; allowed: nothing (it is final)",
    )
    late = request(db, "users/u3/attendanceRequests/late", {"meetingId": "m1", "attendance": True})
    assert run(db, AttendanceRequest, late).reason == "meeting m1 is closed"


def test_status_request_from_someone_who_lost_their_seat(db: firestore.Client) -> None:
    db.document("meetings/m1").update({"participantIds": ["u2", "u3"]})  # u1 (host ticket) removed
    path = request(
        db, "meetings/m1/statusRequests/s1", {"newStatus": "closed", "requestedBy": "u1"}
    )
    assert run(db, StatusRequest, path).reason == "you are not a participant of meeting m1"


# -- exactly once ---------------------------------------------------------------------------------
class Counter(DomainModel, path="counters/{counterId}"):
    value: int = 0


class Bump(Command, path="counters/{counterId}/bumps/{uid}", creatable_by=uid_in_path("uid")):
    """Adds one: any double application would show as a count above the number of commands."""

    by: int = 1

    def apply(self, ctx: CommandContext) -> None:
        counter_id = ctx.params["counterId"]
        counter = ctx.get(Counter, counter_id) or Counter()
        if self.by < 0:
            raise CommandRejected("no negative bumps")
        if self.by == 13:
            raise RuntimeError("unlucky")  # a bug in user code
        ctx.set(Counter(value=counter.value + self.by), counter_id)


COUNTER_APP = App("counter", domain=[Counter], commands=[Bump])


@pytest.fixture
def counter(firestore: firestore.Client) -> Iterator[firestore.Client]:
    firestore.document("counters/c").set({"value": 0})
    yield firestore


def value(db: firestore.Client) -> int:
    return int(db.document("counters/c").get().get("value"))


def test_duplicate_delivery_applies_once(counter: firestore.Client) -> None:
    path = request(counter, "counters/c/bumps/u1", {"by": 1})
    first = run(counter, Bump, path, event_id="e1")
    processed = counter.document(path).get()
    second = run(counter, Bump, path, event_id="e1")
    third = run(counter, Bump, path, event_id="e2")  # a redelivery under another id
    assert (first.status, second.status, third.status) == ("applied", "duplicate", "duplicate")
    assert value(counter) == 1
    assert counter.document(path).get().update_time == processed.update_time


def test_concurrent_deliveries_apply_once_and_lose_no_command(counter: firestore.Client) -> None:
    paths = [request(counter, f"counters/c/bumps/u{i}", {"by": 1}) for i in range(4)]
    outcomes: list[CommandOutcome] = []
    lock = threading.Lock()

    def deliver_one(path: str, event_id: str) -> None:
        outcome = run(counter, Bump, path, event_id=event_id)
        with lock:
            outcomes.append(outcome)

    # Each command delivered three times at once; all commands contend for one counter.
    threads = [
        threading.Thread(target=deliver_one, args=(path, f"{path}:{copy % 2}"))
        for path in paths
        for copy in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert len(outcomes) == 12
    assert sorted(o.status for o in outcomes).count("applied") == 4
    assert {o.status for o in outcomes} <= {"applied", "duplicate"}
    assert value(counter) == 4
    assert all(counter.document(path).get().get("status") == "applied" for path in paths)


def test_rejection_and_bugs_leave_the_counter_alone(counter: firestore.Client) -> None:
    negative = run(counter, Bump, request(counter, "counters/c/bumps/u1", {"by": -1}))
    assert (negative.status, negative.reason) == ("rejected", "no negative bumps")
    buggy = run(counter, Bump, request(counter, "counters/c/bumps/u2", {"by": 13}), event_id="bug")
    assert buggy.status == "rejected"
    assert buggy.reason == "internal error (RuntimeError); the command was not applied"
    error = (
        counter.collection(bookkeeping.ERRORS).document(bookkeeping.safe_id("Bump", "bug")).get()
    )
    assert "unlucky" in error.get("error")
    assert value(counter) == 0


class Misuse(Command, path="counters/{counterId}/misuses/{uid}", creatable_by=uid_in_path("uid")):
    """Uses its context wrongly: a bug in the command's code, not in the request."""

    mistake: str

    def apply(self, ctx: CommandContext) -> None:
        if self.mistake == "ids":
            ctx.get(Counter, ctx.params["counterId"], "extra")
        if self.mistake == "value":
            ctx.update(Counter, ctx.params["counterId"], value="ten")
        ctx.update(Counter, ctx.params["counterId"], valu=1)


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("ids", "needs ids"),
        ("field", "has no fields ['valu']"),
        ("value", "would store an invalid document"),
    ],
)
def test_misuse_inside_apply_is_rejected_as_an_internal_error(
    counter: firestore.Client, mistake: str, message: str
) -> None:
    path = request(counter, f"counters/c/misuses/{mistake}", {"mistake": mistake})
    outcome = run(counter, Misuse, path, event_id=mistake)
    assert (outcome.status, outcome.reason) == (
        "rejected",
        "internal error (CommandMisuse); the command was not applied",
    )
    error = (
        counter.collection(bookkeeping.ERRORS)
        .document(bookkeeping.safe_id("Misuse", mistake))
        .get()
    )
    assert error.get("error").startswith("CommandMisuse(") and message in error.get("error")
    assert value(counter) == 0


def test_a_wrong_number_of_ids_is_a_command_misuse_before_any_read() -> None:
    ctx = CommandContext(None, "counters/c/misuses/u1", {"counterId": "c"}, "u1")  # type: ignore[arg-type]
    with pytest.raises(CommandMisuse, match=r"needs ids \['counterId'\]") as raised:
        ctx.get(Counter, "c", "extra")
    assert raised.value.code == "apply-wrong-ids"


def test_a_command_deleted_before_processing_is_skipped(counter: firestore.Client) -> None:
    assert run(counter, Bump, "counters/c/bumps/gone").status == "missing"
    assert value(counter) == 0


# -- through the exported function, with real CloudEvents -----------------------------------------
def test_exported_function_applies_a_replayed_event_once(counter: firestore.Client) -> None:
    functions = export_functions(COUNTER_APP)
    assert set(functions) >= {"apply_bump"}
    path = request(counter, "counters/c/bumps/u1", {"by": 2})
    event = document_written_event(path, None, {"by": 2}, event_id="evt-7", project="demo-test")
    use_client(counter)
    try:
        deliver(functions["apply_bump"], event)
        deliver(functions["apply_bump"], event)  # the same event again
    finally:
        use_client(None)
    assert value(counter) == 2
    assert counter.document(path).get().get("status") == "applied"


def test_the_meeting_room_exports_one_function_per_command() -> None:
    build = compile_app(app)
    assert [spec.name for spec in build.commands] == [
        "apply_attendance_request",
        "apply_status_request",
    ]
    assert [spec.document for spec in build.commands] == [
        "users/{uid}/attendanceRequests/{requestId}",
        "meetings/{meetingId}/statusRequests/{requestId}",
    ]
    functions = export_functions(app)
    assert {"apply_attendance_request", "apply_status_request"} <= set(functions)


# -- the README's command example is a working program ---------------------------------------------
def docs_commands_example() -> Any:
    """docs/concepts.md's command example (the program defining RenameTeam), as a module."""
    from .markdown_examples import program_defining

    return program_defining("RenameTeam").load()


def test_the_docs_command_example_applies_for_members_only(firestore: firestore.Client) -> None:
    from boiler.rules import generate_rules

    example = docs_commands_example()
    rules = generate_rules(compile_app(example.app))
    assert "match /users/{uid}/renameRequests/{requestId}" in rules
    assert "data.name.size() >= 1 && data.name.size() <= 80" in rules
    firestore.document("teams/t1").set({"name": "Old", "memberIds": ["u1"]})
    member = request(firestore, "users/u1/renameRequests/r1", {"teamId": "t1", "name": "New"})
    outsider = request(firestore, "users/u2/renameRequests/r1", {"teamId": "t1", "name": "Evil"})
    assert run(firestore, example.RenameTeam, member).status == "applied"
    assert (
        run(firestore, example.RenameTeam, outsider).reason == "you are not a member of this team"
    )
    assert firestore.document("teams/t1").get().get("name") == "New"


def test_an_invalid_stored_document_rejects_the_command_naming_it(db: firestore.Client) -> None:
    """Data to fix, not a bug in apply: rejected with the document and the field, no error
    document; once the meeting is fixed, a new request applies."""
    db.document("meetings/m1").update({"title": None})
    path = request(db, "users/u3/attendanceRequests/r1", {"meetingId": "m1", "attendance": True})
    outcome = run(db, AttendanceRequest, path)
    assert outcome.status == "rejected"
    assert outcome.reason == (
        "cannot apply: the stored document meetings/m1: title: Input should be a valid string"
    )
    assert list(db.collection(bookkeeping.ERRORS).stream()) == []
    assert ticket(db, "u3")["attendance"] is False
    db.document("meetings/m1").update({"title": "Fixed"})
    again = request(db, "users/u3/attendanceRequests/r2", {"meetingId": "m1", "attendance": True})
    assert run(db, AttendanceRequest, again).status == "applied"
