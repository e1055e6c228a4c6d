"""Generated security rules: pure generation, then real client requests against the emulator.

The matrix is generated from the declarations: for every view, command, domain and internal
collection, each actor tries get / list / create / update / delete. The expected outcome comes
from boiler's access evaluator (``boiler.access_evaluator.allowed``) deciding the same
``Access`` declarations in Python, independently of the generated rules text: a wrong rule, a
wrong generator or an evaluator that disagrees with Firestore all fail here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from boiler import (
    App,
    Command,
    DeclarationError,
    DomainModel,
    ViewModel,
    compile_app,
    document,
    has_claim,
    path_param,
    public,
    uid_in_field,
    uid_in_path,
)
from boiler.access import AuthUid, Claim, DocumentCheck, UidInField
from boiler.rules import generate_rules, literal, render_access, shape_function, type_check
from boiler.testing import FirestoreEmulator
from boiler.testing.rest import OWNER, RestClient
from meeting_room import AttendanceRequest, Meeting, StatusRequest, Ticket
from meeting_room.views import MeetingData
from pydantic import Field

from .access_matrix import ACTORS, BUILD, WORLD, Actor, Case, samples

RULES = generate_rules(BUILD)


# ============================================================================ pure generation
class Box(DomainModel, path="boxes/{boxId}"):
    owner_ids: list[str] = []
    kind: str = "plain"


class Shout(
    Command,
    path="boxes/{boxId}/shouts/{shoutId}",
    creatable_by=uid_in_field("authorId")
    & document(Box, boxId=path_param("boxId")).lists_uid("owner_ids")
    | has_claim("admin"),
):
    author_id: str
    text: str = Field(max_length=140)
    loud: bool = False
    level: Literal["low", "high"] = "low"
    volume: int = Field(default=1, ge=0, le=11)
    note: str | None = None


def test_literals_are_escaped() -> None:
    assert literal("it's \\ ok") == "'it\\'s \\\\ ok'"
    assert (literal(True), literal(False), literal(None), literal(3)) == (
        "true",
        "false",
        "null",
        "3",
    )


def test_type_checks_follow_pydantic_types_and_constraints() -> None:
    info = Shout.model_fields
    assert (
        type_check("d.text", str, info["text"].metadata)
        == "d.text is string && d.text.size() <= 140"
    )
    assert type_check("d.level", info["level"].annotation) == "d.level in ['low', 'high']"
    assert type_check("d.note", info["note"].annotation) == "(d.note == null || d.note is string)"
    assert type_check("d.v", int, info["volume"].metadata) == "d.v is int && d.v >= 0 && d.v <= 11"
    with pytest.raises(DeclarationError, match="rules cannot check"):
        type_check("d.x", complex, where="X.x")


def test_shape_function_allows_only_declared_keys_and_requires_required_ones() -> None:
    text = shape_function(Shout)
    assert "data.keys().hasOnly(['authorId', 'text', 'loud', 'level', 'volume', 'note'])" in text
    assert "data.keys().hasAll(['authorId', 'text'])" in text
    assert "(!('loud' in data) || data.loud is bool)" in text


def test_access_is_alternatives_of_conjunctions() -> None:
    spec = Shout.spec()
    assert len(spec.creatable_by.alternatives) == 2
    assert [type(c) for c in spec.creatable_by.alternatives[0]] == [UidInField, DocumentCheck]
    assert spec.creatable_by.alternatives[1] == (Claim("admin", True),)
    text = render_access(spec.creatable_by, Shout, "request.resource.data")
    assert text.startswith(
        "(request.auth != null && request.resource.data.authorId == request.auth.uid"
    )
    assert ") || (request.auth != null && request.auth.token.get('admin', null) == true)" in text
    assert spec.readable_by == uid_in_field("authorId")  # default: the creator
    assert render_access(public(), Shout, "resource.data") == "true"


def test_generated_rules_deny_by_default_and_never_let_clients_change_commands() -> None:
    assert RULES.startswith("rules_version = '2';")
    assert "match /{document=**} {\n      allow read, write: if false;" in RULES
    assert (
        "allow update" not in RULES
        and "allow delete" not in RULES
        and "allow write: if true" not in RULES
    )
    assert (
        "match /users/{uid}/meetingSessions/{meetingId} {\n"
        "      allow get, list: if request.auth != null && request.auth.uid == uid;" in RULES
    )
    for command in (AttendanceRequest, StatusRequest):
        assert f"allow create: if valid{command.__name__}(request.resource.data)" in RULES
    assert (
        "request.resource.data.meetingId.matches('[^/]+')" in RULES
    )  # ids from fields stay one segment
    assert generate_rules(BUILD) == RULES  # pure and deterministic


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (
            lambda: type(
                "Bad",
                (Command,),
                {"__annotations__": {"status": str}},
                path="a/{id}/b/{x}",
                creatable_by=uid_in_path("id"),
            ),
            "written by boiler",
        ),
        (
            lambda: type("Bad", (Command,), {"__annotations__": {"x": str}}, path="a/{id}"),
            "creatable_by",
        ),
        (
            lambda: type(
                "Bad",
                (Command,),
                {"__annotations__": {"x": str}},
                path="a/{id}",
                creatable_by=uid_in_path("uid"),
            ),
            "has only",
        ),
        (
            lambda: type(
                "Bad",
                (Command,),
                {"__annotations__": {"x": str}},
                path="a/{id}",
                creatable_by=uid_in_field("missing"),
            ),
            "no field 'missing'",
        ),
        (lambda: document(Ticket, meetingId=path_param("meetingId")), "needs exactly the ids"),
        (lambda: document(Meeting, meetingId=AuthUid()).has("nope", 1), "no field 'nope'"),
    ],
)
def test_declaration_errors_name_the_problem(declare: Any, message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        declare()


def test_a_command_cannot_live_where_domain_data_lives() -> None:
    class Sneaky(Command, path="meetings/{meetingId}", creatable_by=uid_in_field("by")):
        by: str

    with pytest.raises(DeclarationError, match="overlaps Meeting"):
        compile_app(App("x", domain=[Meeting], commands=[Sneaky]))


def test_a_wildcard_named_like_a_rules_variable_is_refused_at_declaration() -> None:
    with pytest.raises(DeclarationError, match="security rules reserve") as command:

        class Clash(Command, path="rooms/{request}/asks/{askId}", creatable_by=uid_in_field("by")):
            by: str

    assert command.value.code == "reserved-wildcard"
    with pytest.raises(DeclarationError, match="security rules reserve") as view:

        class Echo(ViewModel, path="echoes/{meetingId}/to/{resource}", sources=MeetingData):
            title: str

    assert view.value.code == "reserved-wildcard"


# ============================================================================ the emulator matrix
def _cases() -> list[Case]:
    cases = []
    for sample in samples():
        operations = ["get", "list", "create", "update", "delete"]
        if sample.access_read is not None and sample.access_read.uid_fields:
            operations.append("query")
        cases += [Case(sample, actor, op) for actor in ACTORS for op in operations]  # type: ignore[arg-type]
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def world(firestore_emulator: FirestoreEmulator) -> Iterator[FirestoreEmulator]:
    """The meeting-room world plus one stored document per sample, with the generated rules."""
    firestore_emulator.reset()
    firestore_emulator.load_rules(RULES)
    admin = RestClient(firestore_emulator.host, firestore_emulator.project_id, OWNER)
    for path, data in WORLD.items():
        assert admin.create(path, data).status_code == 200
    for sample in samples():
        if sample.path not in WORLD:
            assert admin.create(sample.path, sample.stored).status_code == 200, sample.path
    yield firestore_emulator


def client(world: FirestoreEmulator, actor: Actor) -> RestClient:
    return RestClient(world.host, world.project_id, actor.uid, actor.claims)


def perform(world: FirestoreEmulator, case: Case) -> int:
    api, sample = client(world, case.actor), case.sample
    collection = sample.path.rsplit("/", 1)[0]
    if case.operation == "get":
        return api.get(sample.path).status_code
    if case.operation == "list":
        return api.list(collection).status_code
    if case.operation == "query":
        field_name = case._own() and next(iter(case._own()))
        return api.query(collection, str(field_name), case.actor.uid or "nobody").status_code
    if case.operation == "create":
        return api.create(
            f"{collection}/new-{uuid.uuid4().hex[:8]}", sample.payload(case.actor.uid)
        ).status_code
    if case.operation == "update":
        return api.update(sample.path, sample.stored).status_code
    return api.delete(sample.path).status_code


def test_the_matrix_covers_every_collection_actor_and_operation() -> None:
    covered = {(c.sample.path, c.actor.name, c.operation) for c in CASES}
    assert len(covered) == len(CASES) >= 11 * 5 * 5
    assert sum(c.expected() for c in CASES) >= 8  # some allows, not a deny-everything matrix


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rules_matrix(world: FirestoreEmulator, case: Case) -> None:
    status = perform(world, case)
    expected = 200 if case.expected() else 403
    assert status == expected, (
        f"{case.actor.name} {case.operation} {case.sample.path}: HTTP {status}"
    )


# ============================================================================ hand-written cases
def as_user(world: FirestoreEmulator, uid: str | None, **claims: Any) -> RestClient:
    return RestClient(world.host, world.project_id, uid, claims)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.mark.parametrize(
    ("uid", "path", "data", "why"),
    [
        (
            "u2",
            "users/u2/attendanceRequests/{id}",
            {"meetingId": "m1", "attendance": True, "x": 1},
            "extra field",
        ),
        (
            "u2",
            "users/u2/attendanceRequests/{id}",
            {"meetingId": "m1", "attendance": "yes"},
            "wrong type",
        ),
        (
            "u2",
            "users/u2/attendanceRequests/{id}",
            {"meetingId": 1, "attendance": True},
            "id not a string",
        ),
        (
            "u2",
            "users/u2/attendanceRequests/{id}",
            {"meetingId": "m" * 129, "attendance": True},
            "oversized",
        ),
        (
            "u2",
            "users/u2/attendanceRequests/{id}",
            {"meetingId": "", "attendance": True},
            "empty id",
        ),
        ("u2", "users/u2/attendanceRequests/{id}", {"attendance": True}, "missing field"),
        (
            "u2",
            "users/u2/attendanceRequests/{id}",
            {"meetingId": "m1/tickets/u1", "attendance": True},
            "path id",
        ),
        (
            "u2",
            "users/u2/attendanceRequests/{id}",
            {"meetingId": "m1", "attendance": True, "status": "applied"},
            "forged outcome",
        ),
        (
            "u2",
            "users/u1/attendanceRequests/{id}",
            {"meetingId": "m1", "attendance": True},
            "another user's uid",
        ),
        (
            "u3",
            "users/u3/attendanceRequests/{id}",
            {"meetingId": "m1", "attendance": True},
            "not in the meeting",
        ),
        (
            "u3",
            "users/u3/attendanceRequests/{id}",
            {"meetingId": "m-missing", "attendance": True},
            "no meeting",
        ),
        (
            "u2",
            "meetings/m1/statusRequests/{id}",
            {"newStatus": "closed", "requestedBy": "u2"},
            "not the host",
        ),
        (
            "u1",
            "meetings/m1/statusRequests/{id}",
            {"newStatus": "closed", "requestedBy": "u2"},
            "posing as u2",
        ),
        (
            "u1",
            "meetings/m1/statusRequests/{id}",
            {"newStatus": "paused", "requestedBy": "u1"},
            "unknown status",
        ),
        (
            "u1",
            "meetings/m2/statusRequests/{id}",
            {"newStatus": "closed", "requestedBy": "u1"},
            "other meeting",
        ),
        (
            None,
            "meetings/m1/statusRequests/{id}",
            {"newStatus": "closed", "requestedBy": "u1"},
            "signed out",
        ),
    ],
)
def test_malicious_commands_are_denied(
    world: FirestoreEmulator, uid: str, path: str, data: dict[str, Any], why: str
) -> None:
    response = as_user(world, uid).create(path.format(id=new_id()), data)
    assert response.status_code == 403, why
    assert "PERMISSION_DENIED" in response.text


def test_valid_commands_are_accepted(world: FirestoreEmulator) -> None:
    path = f"users/u2/attendanceRequests/{new_id()}"
    assert (
        as_user(world, "u2").create(path, {"meetingId": "m1", "attendance": True}).status_code
        == 200
    )
    host = as_user(world, "u1")
    assert host.create(
        f"meetings/m1/statusRequests/{new_id()}", {"newStatus": "closed", "requestedBy": "u1"}
    ).ok
    # The creator may watch the outcome but never change or retract the command.
    assert as_user(world, "u2").get(path).status_code == 200
    assert as_user(world, "u2").update(path, {"attendance": False}).status_code == 403
    assert as_user(world, "u2").update(path, {"status": "applied"}).status_code == 403
    assert as_user(world, "u2").delete(path).status_code == 403


def test_a_replayed_create_cannot_overwrite_a_command(world: FirestoreEmulator) -> None:
    path = f"users/u2/attendanceRequests/{new_id()}"
    assert (
        as_user(world, "u2").create(path, {"meetingId": "m1", "attendance": True}).status_code
        == 200
    )
    again = as_user(world, "u2").create(path, {"meetingId": "m1", "attendance": False})
    assert again.status_code in (403, 409)  # an existing id is an update, never a create


def test_views_cannot_be_enumerated(world: FirestoreEmulator) -> None:
    other = as_user(world, "u3")
    assert other.list("users/u2/meetingSessions").status_code == 403
    group = other.session.post(
        f"{other.base}:runQuery",
        json={
            "structuredQuery": {
                "from": [{"collectionId": "meetingSessions", "allDescendants": True}]
            }
        },
        timeout=10,
    )
    assert group.status_code == 403
    assert as_user(world, "u2").list("users/u2/meetingSessions").status_code == 200
