"""The README's first example does what the README says, against the Firestore emulator: one
view per participant kept in step with the meeting, its location and its tickets, a command
applied once, and generated rules that let each user read only their own view.
(tests/test_docs_examples.py runs every example of the docs; this checks what they claim.)"""

from __future__ import annotations

import types
import uuid
from typing import Any

import pytest
from boiler import compile_app
from boiler.compiler import Build
from boiler.rules import generate_rules
from boiler.runtime.command_runner import CommandRunner
from boiler.runtime.pipeline import Pipeline
from boiler.testing.emulators import FirestoreEmulator
from boiler.testing.rest import OWNER, RestClient
from google.cloud import firestore

from .markdown_examples import Program, blocks_run_by, program_defining


@pytest.fixture(scope="module")
def example() -> types.ModuleType:
    (block,) = blocks_run_by(__file__)
    return Program((block,)).load("readme_example")


@pytest.fixture(scope="module")
def build(example: types.ModuleType) -> Build:
    return compile_app(example.app)


def deliver(build: Build, db: firestore.Client, function: str, document: str) -> None:
    Pipeline(build.trigger(function), client=db).handle(uuid.uuid4().hex, document)


def session(db: firestore.Client, uid: str) -> dict[str, Any]:
    return db.document(f"users/{uid}/meetingSessions/kickoff").get().to_dict() or {}


def test_the_example_compiles_to_the_functions_it_names(build: Build) -> None:
    assert [t.name for t in build.triggers] == [
        "meeting_session_on_meeting",
        "meeting_session_on_location",
        "meeting_session_on_ticket",
    ]
    assert len(build.commands) == 1


def test_the_example_keeps_every_participants_view_in_step(
    example: types.ModuleType, build: Build, firestore: firestore.Client
) -> None:
    db = firestore
    db.document("locations/hq").set({"address": "1 Market St"})
    db.document("meetings/kickoff").set(
        {"title": "Kickoff", "locationId": "hq", "participantIds": ["alice", "bob"]}
    )
    db.document("meetings/kickoff/tickets/alice").set({"attendance": True})
    deliver(build, db, "meeting_session_on_meeting", "meetings/kickoff")
    view = {"title": "Kickoff", "address": "1 Market St", "attending": ["alice"]}
    assert session(db, "alice") == session(db, "bob") == view

    # bob's command sets his ticket, once; his ticket's trigger updates both views.
    path = "users/bob/attendanceRequests/r1"
    db.document(path).set({"meetingId": "kickoff", "attendance": True})
    (command,) = build.commands
    runner = CommandRunner(command.command, client=db)
    assert runner.handle("event-1", path).status == "applied"
    assert runner.handle("event-1", path).status == "duplicate"
    assert db.document("meetings/kickoff/tickets/bob").get().to_dict() == {"attendance": True}
    deliver(build, db, "meeting_session_on_ticket", "meetings/kickoff/tickets/bob")
    assert session(db, "alice") == session(db, "bob") == {**view, "attending": ["alice", "bob"]}

    # The location moves: every participant's view follows.
    db.document("locations/hq").update({"address": "2 Main St"})
    deliver(build, db, "meeting_session_on_location", "locations/hq")
    assert session(db, "alice")["address"] == session(db, "bob")["address"] == "2 Main St"


def test_the_generated_rules_let_each_user_read_only_their_own_view(
    build: Build, firestore_emulator: FirestoreEmulator
) -> None:
    firestore_emulator.reset()
    firestore_emulator.load_rules(generate_rules(build))
    host, project = firestore_emulator.host, firestore_emulator.project_id

    def as_user(uid: str) -> RestClient:
        return RestClient(host, project, uid)

    admin = as_user(OWNER)
    meeting = {"title": "Kickoff", "locationId": "hq", "participantIds": ["alice", "bob"]}
    assert admin.create("meetings/kickoff", meeting).status_code == 200
    view: dict[str, Any] = {"title": "Kickoff", "address": None, "attending": []}
    assert admin.create("users/alice/meetingSessions/kickoff", view).status_code == 200

    assert as_user("alice").get("users/alice/meetingSessions/kickoff").status_code == 200
    assert as_user("bob").get("users/alice/meetingSessions/kickoff").status_code == 403
    assert as_user("alice").get("meetings/kickoff").status_code == 403  # domain: closed
    request = {"meetingId": "kickoff", "attendance": True}
    assert as_user("bob").create("users/bob/attendanceRequests/r1", request).status_code == 200
    assert as_user("bob").create("users/alice/attendanceRequests/r2", request).status_code == 403
    # carol is no participant of the meeting the command names
    assert as_user("carol").create("users/carol/attendanceRequests/r3", request).status_code == 403


def test_the_concepts_join_example_keeps_the_city_view_in_step(
    firestore: firestore.Client,
) -> None:
    build = compile_app(program_defining("CityView").load().app)
    assert {t.name for t in build.triggers} == {"city_view_on_city", "city_view_on_country"}
    firestore.document("countries/fr").set({"name": "France"})
    firestore.document("cities/paris").set({"cityName": "Paris", "countryId": "fr"})
    deliver(build, firestore, "city_view_on_city", "cities/paris")
    assert firestore.document("cityViews/paris").get().to_dict() == {
        "name": "Paris",
        "country": "France",
    }
    firestore.document("countries/fr").update({"name": "République française"})
    deliver(build, firestore, "city_view_on_country", "countries/fr")
    assert firestore.document("cityViews/paris").get().get("country") == "République française"
