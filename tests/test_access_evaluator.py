"""The access evaluator, without a server: each condition, alternatives and conjunctions.

tests/test_rules.py checks that it agrees with the generated rules in the Firestore emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from boiler import (
    Access,
    Command,
    DomainModel,
    auth_uid,
    document,
    field_value,
    has_claim,
    path_param,
    public,
    uid_in_field,
    uid_in_path,
)
from boiler.access_evaluator import allowed, decided_by_path, reads_documents


class Room(DomainModel, path="rooms/{roomId}"):
    member_ids: list[str] = []
    kind: str = "plain"
    floor: int = 0


class Seat(DomainModel, path="rooms/{roomId}/seats/{uid}"):
    role: str = "guest"


class Ask(
    Command,
    path="rooms/{roomId}/asks/{askId}",
    creatable_by=uid_in_field("author_id"),
):
    author_id: str
    target_room_id: str = ""


WORLD: dict[str, dict[str, Any]] = {
    "rooms/r1": {"memberIds": ["u1", "u2"], "kind": "quiet", "floor": 1},
    "rooms/r1/seats/u1": {"role": "host"},
}
PARAMS = {"roomId": "r1", "askId": "a1"}


def decide(
    access: Access | None,
    uid: str | None = "u1",
    fields: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    **claims: Any,
) -> bool:
    return allowed(
        access,
        model=Ask,
        uid=uid,
        claims=claims,
        path_params=PARAMS if params is None else params,
        fields={"authorId": "u1"} if fields is None else fields,
        lookup=WORLD.get,
    )


def test_no_access_declared_is_closed() -> None:
    assert not decide(None)
    assert not decide(Access())


def test_public_needs_no_sign_in_every_other_alternative_does() -> None:
    assert decide(public(), uid=None)
    assert not decide(has_claim("admin"), uid=None, admin=True)
    assert decide(public() | uid_in_field("authorId"), uid=None)


def test_uid_in_path_and_in_field_in_either_spelling() -> None:
    params = {"roomId": "u1", "askId": "a1"}
    assert decide(uid_in_path("roomId"), params=params)
    assert not decide(uid_in_path("roomId"))
    assert decide(uid_in_field("author_id")) and decide(uid_in_field("authorId"))
    assert not decide(uid_in_field("author_id"), uid="u2")
    assert not decide(uid_in_field("author_id"), fields={})  # a missing field denies


def test_claims_compare_like_the_rules_language() -> None:
    assert decide(has_claim("admin"), admin=True)
    assert not decide(has_claim("admin"), admin=1)  # true is not 1
    assert not decide(has_claim("admin"))
    assert decide(has_claim("role", "editor"), role="editor")
    assert not decide(has_claim("role", "editor"), role="viewer")


def test_document_checks_read_through_lookup() -> None:
    room = document(Room, roomId=path_param("roomId"))
    assert decide(room.exists())
    assert decide(room.lists_uid("member_ids"), uid="u2")
    assert not decide(room.lists_uid("member_ids"), uid="u3")
    assert decide(room.has("kind", "quiet")) and not decide(room.has("kind", "plain"))
    assert decide(room.has("floor", 1)) and not decide(room.has("floor", 2))
    seat = document(Seat, roomId=path_param("roomId"), uid=auth_uid())
    assert decide(seat.has("role", "host")) and not decide(seat.exists(), uid="u2")


def test_a_missing_document_or_field_denies() -> None:
    elsewhere = document(Room, roomId=field_value("target_room_id"))
    assert decide(elsewhere.exists(), fields={"authorId": "u1", "targetRoomId": "r1"})
    assert not decide(elsewhere.exists(), fields={"authorId": "u1", "targetRoomId": "r9"})
    assert not decide(elsewhere.has("kind", "quiet"), fields={"targetRoomId": "r9"})
    assert not decide(document(Seat, roomId=path_param("roomId"), uid=auth_uid()).exists(), "u9")


@pytest.mark.parametrize("room_id", ["r1/seats/u1", "", 7, None, "__x__"])
def test_an_id_from_a_field_must_be_one_path_segment(room_id: Any) -> None:
    elsewhere = document(Room, roomId=field_value("target_room_id")).exists()
    assert not decide(elsewhere, fields={"authorId": "u1", "targetRoomId": room_id})


def test_or_needs_one_alternative_and_needs_every_condition() -> None:
    room = document(Room, roomId=path_param("roomId"))
    both = uid_in_field("author_id") & room.lists_uid("member_ids")
    assert decide(both)
    assert not decide(both, fields={"authorId": "u3"}, uid="u3")
    assert not decide(both, fields={"authorId": "u2"})  # u1 is a member, not the author
    either = both | has_claim("admin")
    assert decide(either, uid="u3", fields={"authorId": "u3"}, admin=True)
    assert not decide(either, uid="u3", fields={"authorId": "u3"})


def test_reads_documents_only_for_declarations_that_check_another_document() -> None:
    """The live server decides the others on its event loop, without a thread."""
    room = document(Room, roomId=path_param("roomId"))
    assert not reads_documents(None)
    assert not reads_documents(uid_in_path("uid") | has_claim("admin", True) | public())
    assert not reads_documents(uid_in_field("author_id") & has_claim("staff", True))
    assert reads_documents(uid_in_path("uid") | room.lists_uid("member_ids"))
    assert reads_documents(has_claim("staff", True) & room.exists())


def test_decided_by_path_only_without_fields_or_other_documents() -> None:
    """The live server refuses those before it opens a listener."""
    room = document(Room, roomId=path_param("roomId"))
    assert decided_by_path(None)  # closed: always refused
    assert decided_by_path(uid_in_path("uid") | has_claim("admin", True) | public())
    assert not decided_by_path(uid_in_path("uid") | uid_in_field("author_id"))
    assert not decided_by_path(has_claim("staff", True) & room.exists())
