"""Loop safety: a view can never be written where a trigger listens, so no view re-triggers
itself or another view (the declarations cannot express a cycle that compile_app accepts)."""

from __future__ import annotations

import pytest
from boiler import App, DeclarationError, DomainModel, Root, Sources, ViewModel, compile_app
from meeting_room import app as meeting_room


class Room(DomainModel, path="rooms/{roomId}"):
    name: str


class RoomData(Sources):
    room: Room = Root(Room)


def _view(name: str, path: str, sources: type[Sources] = RoomData) -> type[ViewModel]:
    def build(cls: type[ViewModel], data: RoomData) -> ViewModel:
        return cls(name=data.room.name)

    return type(
        name,
        (ViewModel,),
        {"__annotations__": {"name": "str"}, "build": classmethod(build)},
        path=path,
        sources=sources,
    )


def test_the_flagship_app_compiles() -> None:
    assert compile_app(meeting_room).triggers


def test_view_written_where_its_own_source_lives_is_rejected() -> None:
    loop = _view("RoomMirror", "rooms/{roomId}")
    with pytest.raises(
        DeclarationError,
        match="RoomMirror writes rooms/{roomId}, which room_mirror_on_room listens",
    ):
        compile_app(App("loop", domain=[Room], views=[loop]))


def test_two_views_feeding_each_other_are_rejected() -> None:
    # B reads documents at A's path (A's writes trigger B); B writes where A's source lives.
    class Summary(DomainModel, path="summaries/{roomId}"):
        name: str

    class SummaryData(Sources):
        summary: Summary = Root(Summary)

    a = _view("RoomSummary", "summaries/{roomId}")
    b = _view("SummaryEcho", "rooms/{roomId}", SummaryData)
    with pytest.raises(DeclarationError, match="listens to"):
        compile_app(App("cycle", domain=[Room, Summary], views=[a, b]))


def test_view_under_a_wildcard_that_matches_a_source_is_rejected() -> None:
    class Note(DomainModel, path="rooms/{roomId}/notes/{noteId}"):
        text: str

    class NoteData(Sources):
        room: Room = Root(Room)

    shadow = _view("NoteShadow", "rooms/{roomId}/notes/{noteId}")
    with pytest.raises(DeclarationError, match="domain model Note"):
        compile_app(App("shadow", domain=[Room, Note], views=[shadow]))


def test_two_views_writing_the_same_path_are_rejected() -> None:
    first = _view("RoomCard", "cards/{roomId}")
    second = _view("RoomTile", "cards/{roomId}")
    with pytest.raises(DeclarationError, match="both write"):
        compile_app(App("twice", domain=[Room], views=[first, second]))


def test_views_with_overlapping_wildcards_are_rejected() -> None:
    first = _view("PerUser", "users/{uid}/rooms/{roomId}")
    second = _view("PerOwner", "users/{ownerId}/rooms/{roomId}")
    with pytest.raises(DeclarationError, match="both write"):
        compile_app(App("overlap", domain=[Room], views=[first, second]))


def test_view_inside_boilers_own_collections_is_rejected() -> None:
    hidden = _view("Hidden", "_boilerAggregates/{roomId}")
    with pytest.raises(DeclarationError, match="inside boiler's own"):
        compile_app(App("internal", domain=[Room], views=[hidden]))


def test_distinct_collections_compile() -> None:
    fine = _view("RoomCard2", "roomCards/{roomId}")
    build = compile_app(App("fine", domain=[Room], views=[fine]))
    assert [t.name for t in build.triggers] == ["room_card2_on_room"]


def test_a_clash_among_many_views_names_the_first_writer() -> None:
    cards = [_view(f"Card{i}", f"cards{i}/{{roomId}}") for i in range(30)]
    late = _view("LateCard", "cards7/{roomId}")
    with pytest.raises(DeclarationError, match="LateCard and view Card7 both write"):
        compile_app(App("many", domain=[Room], views=[*cards, late]))
