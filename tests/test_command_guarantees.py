"""Commands keep their promises when invocations die, reads race and deliveries reorder.

Against the real Firestore emulator, through ``CommandRunner`` (what the exported trigger and
the ``boilerRedrive`` task function run), with faults injected at the command steps through
the runtime's fault hook (``Options(faults=...)``, shared by views and commands):
- a command whose invocation dies (before its read, with its commit staged) or whose retries
  run out is applied later by the durable path; one whose invocation died before even its
  write-ahead entry landed is found by ``pending``'s scan (issue 8, item 5);
- a document ``apply`` only read is guarded: a racing write to it makes the commit fail and
  the command rerun on fresh data (item 6);
- commands with ``orders_on`` apply in creation order: an older one delivered late is
  ``superseded`` (item 7);
- each failure of one event gets its own task name; entries of functions that no longer
  exist are reported as obsolete and deleted once (item 8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from boiler import Command, DeclarationError, compile_app, uid_in_path
from boiler.cli import main
from boiler.runtime import bookkeeping, durable
from boiler.runtime.command_runner import CommandOutcome, CommandRunner
from boiler.runtime.options import Options
from boiler.runtime.redrive import redrive, redrive_all
from boiler.testing import wait_until
from google.api_core import exceptions as gexc
from google.cloud import firestore
from meeting_room import AttendanceRequest, StatusRequest, app

from .meeting_fixtures import create_meeting

BUILD = compile_app(app)
FUNCTION = "apply_attendance_request"


class Killed(BaseException):
    """The invocation dies here: nothing in boiler catches a BaseException."""


Hook = Callable[[str, Any], None]


class Faults:
    """The fault hook of every runner and redrive of this module; a test sets what it runs."""

    def __init__(self) -> None:
        self.hook: Hook | None = None

    def __call__(self, step: str, outcome: Any) -> None:
        if self.hook is not None:
            self.hook(step, outcome)


FAULTS = Faults()
OPTIONS = Options(faults=FAULTS)


@pytest.fixture
def faults() -> Iterator[Callable[[Hook | None], None]]:
    """Install a fault hook for one test (``Options.faults``, shared by views and commands)."""

    def install(hook: Hook | None) -> None:
        FAULTS.hook = hook

    yield install
    FAULTS.hook = None


@pytest.fixture
def db(firestore: firestore.Client) -> Iterator[firestore.Client]:
    create_meeting(firestore)  # m1 in-session; u1 host attending, u2 attending, u3 not
    yield firestore


def runner(db: firestore.Client, **options: Any) -> CommandRunner:
    chosen = Options(faults=FAULTS, **options)
    return CommandRunner(AttendanceRequest, name=FUNCTION, client=db, options=chosen)


def request(db: firestore.Client, uid: str, request_id: str, **data: Any) -> str:
    path = f"users/{uid}/attendanceRequests/{request_id}"
    db.document(path).set({"meetingId": "m1", "attendance": True, **data})
    return path


def command(db: firestore.Client, path: str) -> dict[str, Any]:
    return db.document(path).get().to_dict() or {}


def ticket(db: firestore.Client, uid: str, meeting_id: str = "m1") -> dict[str, Any] | None:
    return db.document(f"meetings/{meeting_id}/tickets/{uid}").get().to_dict()


def pending(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in db.collection(bookkeeping.PENDING).stream()}


def once_at(step: str, action: Callable[[], None]) -> Hook:
    """A hook running ``action`` the first time ``step`` is reached."""
    done: list[str] = []

    def hook(reached: str, outcome: Any) -> None:
        if reached == step and not done:
            done.append(reached)
            action()

    return hook


def die() -> None:
    raise Killed()


# -- 5. a command whose invocation dies is applied later ---------------------------------------
@pytest.mark.parametrize("step", ["command_before_read", "command_commit"])
def test_a_command_whose_invocation_dies_is_applied_by_its_redelivery(
    db: firestore.Client, faults: Callable[[Hook | None], None], step: str
) -> None:
    """Deployed with platform retries: nothing is written ahead, the platform delivers the
    dead invocation's event again and that applies it."""
    path = request(db, "u3", "r1")
    faults(once_at(step, die))
    with pytest.raises(Killed):
        runner(db).handle("e1", path)
    assert "status" not in command(db, path)
    assert pending(db) == {}
    assert runner(db).handle("e1", path).status == "applied"
    assert ticket(db, "u3") == {"role": "participant", "attendance": True}
    assert pending(db) == {}


@pytest.mark.parametrize("step", ["command_before_read", "command_commit"])
def test_without_platform_retries_a_dead_command_is_applied_by_the_durable_path(
    db: firestore.Client, faults: Callable[[Hook | None], None], step: str
) -> None:
    path = request(db, "u3", "r1")
    faults(once_at(step, die))
    with pytest.raises(Killed):
        runner(db, platform_retries=False).handle("e1", path)
    assert "status" not in command(db, path)
    # The write-ahead entry travelled beside the read: what the dead invocation leaves behind
    # (still in flight when the death came first: wait for it, the way the platform would).
    entry = wait_until(lambda: pending(db).get(bookkeeping.safe_id(FUNCTION, "e1")), timeout=10)
    assert (entry["kind"], entry["function"], entry["document"]) == ("command", FUNCTION, path)
    assert entry["startedAt"] is not None

    report = redrive_all(BUILD, db, options=OPTIONS)  # what `python -m boiler pending` runs
    assert (report.redriven, report.failed, report.errors) == (1, 0, [])
    assert command(db, path)["status"] == "applied"
    assert ticket(db, "u3") == {"role": "participant", "attendance": True}
    assert pending(db) == {}


def test_a_commit_that_landed_leaves_nothing_pending(
    db: firestore.Client, faults: Callable[[Hook | None], None]
) -> None:
    path = request(db, "u3", "r1")
    seen: list[str] = []
    faults(lambda step, outcome: seen.append(f"{step}:{outcome.status}"))
    runner(db).handle("e1", path)
    assert seen == [
        "command_before_read:pending",
        "command_commit:pending",
        "command_after_commit:applied",  # the outcome carries the final status
    ]
    faults(once_at("command_after_commit", die))
    path = request(db, "u2", "r2", attendance=False)
    with pytest.raises(Killed):
        runner(db).handle("e2", path)
    assert command(db, path)["status"] == "applied"
    assert pending(db) == {}  # the status commit removed the write-ahead entry with it


def test_a_command_that_died_before_its_write_ahead_landed_is_found_by_pending(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = request(db, "u3", "r1")  # created; its trigger never ran (or died at once)
    monkeypatch.setenv("GCLOUD_PROJECT", db.project)
    assert main(["pending", "--app", "meeting_room", "--min-age", "3600"]) == 0
    assert '"unprocessed": 0' in capsys.readouterr().out  # too young: it may be in flight
    assert "status" not in command(db, path)
    assert main(["pending", "--app", "meeting_room", "--min-age", "0"]) == 0
    out = capsys.readouterr().out
    assert '"unprocessed": 1' in out and '"failed": 0' in out
    assert command(db, path)["status"] == "applied"
    assert ticket(db, "u3") == {"role": "participant", "attendance": True}
    assert main(["pending", "--app", "meeting_room", "--min-age", "0"]) == 0
    assert '"unprocessed": 0' in capsys.readouterr().out


def test_exhausted_retries_hand_off_with_a_task_and_a_failure_count(
    db: firestore.Client, faults: Callable[[Hook | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(durable, "enqueue", lambda *args, **kw: enqueued.append((args, kw)))

    def contention(step: str, outcome: Any) -> None:
        if step == "command_commit":
            raise gexc.Aborted("injected contention")

    faults(contention)
    path = request(db, "u3", "r1")
    outcome = runner(db, max_retries=2).handle("e1", path)
    assert (outcome.status, outcome.attempts) == ("pending", 2)
    entry = pending(db)[bookkeeping.safe_id(FUNCTION, "e1")]
    assert (entry["kind"], entry["failures"]) == ("command", 1)
    assert "attempts" not in entry  # platform retries: nothing was written ahead
    assert "RetriesExhausted" in entry["error"] and "Aborted" in entry["cause"]
    assert enqueued == [((FUNCTION, "e1", path), {"kind": "command", "failures": 1})]
    # A second failure of the same event: a new task name (Cloud Tasks refuses a used one).
    assert runner(db, max_retries=1).handle("e1", path).status == "pending"
    assert enqueued[-1] == ((FUNCTION, "e1", path), {"kind": "command", "failures": 2})
    assert durable.task_id(FUNCTION, "e1", 1) != durable.task_id(FUNCTION, "e1", 2)

    faults(None)
    # What the boilerRedrive task function runs, with the task's payload.
    done = redrive(BUILD, FUNCTION, "e1", path, db, kind="command", options=OPTIONS)
    assert isinstance(done, CommandOutcome) and done.status == "applied"
    assert ticket(db, "u3") == {"role": "participant", "attendance": True}
    assert pending(db) == {}


def test_an_infrastructure_error_is_handed_off_not_rejected(
    db: firestore.Client, faults: Callable[[Hook | None], None]
) -> None:
    def unavailable() -> None:
        raise RuntimeError("injected: the instance lost its network")

    faults(once_at("command_before_read", unavailable))
    path = request(db, "u3", "r1")
    assert runner(db).handle("e1", path).status == "pending"
    assert "status" not in command(db, path)  # not rejected: nothing was wrong with it
    assert "lost its network" in pending(db)[bookkeeping.safe_id(FUNCTION, "e1")]["error"]
    assert redrive_all(BUILD, db, options=OPTIONS).redriven == 1
    assert command(db, path)["status"] == "applied"


def test_a_duplicate_delivery_clears_its_own_write_ahead_entry(db: firestore.Client) -> None:
    path = request(db, "u3", "r1")
    assert runner(db).handle("e1", path).status == "applied"
    assert runner(db).handle("e1", path).status == "duplicate"
    assert runner(db).handle("e2", path).status == "duplicate"
    assert runner(db).handle("e3", "users/u3/attendanceRequests/gone").status == "missing"
    assert pending(db) == {}


# -- 6. documents apply only read guard the commit ---------------------------------------------
def test_a_participant_removed_while_the_command_commits_gets_no_orphan_ticket(
    db: firestore.Client, faults: Callable[[Hook | None], None]
) -> None:
    # u4 takes part but has no ticket yet: the command would create it.
    db.document("users/u4").set({"firstName": "Di", "lastName": "Oz", "organization": "X"})
    db.document("meetings/m1").update({"participantIds": ["u1", "u2", "u3", "u4"]})
    path = request(db, "u4", "r1")

    def remove_u4() -> None:  # a batch commits between the command's read and its commit
        db.document("meetings/m1").update({"participantIds": ["u1", "u2", "u3"]})

    faults(once_at("command_commit", remove_u4))
    outcome = runner(db).handle("e1", path)
    assert (outcome.status, outcome.reason) == (
        "rejected",
        "you are not a participant of meeting m1",
    )
    assert outcome.attempts == 2  # the guarded commit failed, the rerun saw the removal
    assert ticket(db, "u4") is None


def test_a_document_that_appears_while_the_command_commits_is_seen(
    db: firestore.Client, faults: Callable[[Hook | None], None]
) -> None:
    path = "users/u3/attendanceRequests/r1"
    db.document(path).set({"meetingId": "m2", "attendance": True})

    def create_m2() -> None:  # the rejection was read from its absence
        db.document("meetings/m2").set(
            {"title": "Late", "locationId": "l1", "status": "in-session", "participantIds": ["u3"]}
        )

    faults(once_at("command_commit", create_m2))
    outcome = runner(db).handle("e1", path)
    assert (outcome.status, outcome.attempts) == ("applied", 2)
    assert ticket(db, "u3", "m2") == {"role": "participant", "attendance": True}


def test_verifying_a_read_changes_nothing(db: firestore.Client) -> None:
    meeting = db.document("meetings/m1").get()
    outcome = runner(db).handle("e1", request(db, "u3", "r1"))
    assert (outcome.status, outcome.writes, outcome.verified) == ("applied", 1, 1)
    after = db.document("meetings/m1").get()
    assert (after.update_time, after.to_dict()) == (meeting.update_time, meeting.to_dict())


# -- 7. creation order, not delivery order -----------------------------------------------------
def test_an_older_command_delivered_late_is_superseded(db: firestore.Client) -> None:
    attending = request(db, "u3", "a-first", attendance=True)
    leaving = request(db, "u3", "b-second", attendance=False)  # created later
    assert runner(db).handle("e2", leaving).status == "applied"
    late = runner(db).handle("e1", attending)
    assert (late.status, late.superseded_by, late.writes) == ("superseded", "b-second", 0)
    stored = command(db, attending)
    assert (stored["status"], stored["supersededBy"]) == ("superseded", "b-second")
    assert stored["reason"] == (
        "superseded by b-second, created later for the same uid=u3, meeting_id=m1"
    )
    assert ticket(db, "u3") == {"role": "participant", "attendance": False}


def test_a_rejected_newer_command_does_not_supersede_an_older_valid_one(
    db: firestore.Client,
) -> None:
    attending = request(db, "u3", "a-first", attendance=True)
    db.document("meetings/m1").update({"status": "closed"})
    refused = request(db, "u3", "b-second", attendance=False)
    assert runner(db).handle("e2", refused).status == "rejected"
    db.document("meetings/m1").update({"status": "in-session"})
    assert runner(db).handle("e1", attending).status == "applied"
    assert ticket(db, "u3") == {"role": "participant", "attendance": True}


def test_order_is_per_target(db: firestore.Client) -> None:
    mine = request(db, "u3", "a-first", attendance=True)
    theirs = request(db, "u2", "b-second", attendance=False)  # another user: another target
    assert runner(db).handle("e2", theirs).status == "applied"
    assert runner(db).handle("e1", mine).status == "applied"
    order = list(db.collection(bookkeeping.ORDER).stream())
    assert sorted(o.get("target")["uid"] for o in order) == ["u2", "u3"]
    assert all(o.get("expireAt") is not None for o in order)


def test_status_requests_follow_the_order_they_were_made(db: firestore.Client) -> None:
    requests = db.collection("meetings/m1/statusRequests")
    requests.document("s1").set({"newStatus": "in-session", "requestedBy": "u1"})
    requests.document("s2").set({"newStatus": "closed", "requestedBy": "u1"})
    status = CommandRunner(StatusRequest, client=db)
    assert status.handle("e2", "meetings/m1/statusRequests/s2").status == "applied"
    late = status.handle("e1", "meetings/m1/statusRequests/s1")
    assert (late.status, late.superseded_by) == ("superseded", "s2")
    assert db.document("meetings/m1").get().get("status") == "closed"


def test_orders_on_is_checked_at_declaration() -> None:
    assert AttendanceRequest.spec().orders_on == ("uid", "meeting_id")
    assert StatusRequest.spec().orders_on == ("meetingId",)
    with pytest.raises(DeclarationError) as error:

        class Vote(
            Command,
            path="polls/{pollId}/votes/{voteId}",
            creatable_by=uid_in_path("pollId"),
            orders_on=("pollId", "choise"),
        ):
            choice: str

    assert str(error.value) == (
        "Vote: orders_on names 'choise', which is neither a path wildcard of "
        "polls/{pollId}/votes/{voteId} nor a field; choose from ['pollId', 'choice']"
    )
    with pytest.raises(DeclarationError, match="supersededBy"):

        class Sneaky(Command, path="s/{uid}/r/{id}", creatable_by=uid_in_path("uid")):
            superseded_by: str = ""  # stored as supersededBy: boiler's to write


# -- 8. obsolete entries -----------------------------------------------------------------------
def test_entries_of_functions_that_no_longer_exist_are_reported_once_and_deleted(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind, function in (("view", "old_view_on_meeting"), ("command", "apply_old_request")):
        bookkeeping.pending_ref(db, function, "e1").set(
            {"kind": kind, "function": function, "eventId": "e1", "document": "meetings/m1"}
        )
    monkeypatch.setenv("GCLOUD_PROJECT", db.project)
    assert main(["pending", "--app", "meeting_room", "--min-age", "0"]) == 0
    out, err = capsys.readouterr()
    assert '"obsolete": 2' in out and '"failed": 0' in out
    assert "deleted 2 pending entries of functions meeting_room no longer has" in err
    assert pending(db) == {}
    assert main(["pending", "--app", "meeting_room", "--min-age", "0"]) == 0
    assert '"obsolete": 0' in capsys.readouterr().out
