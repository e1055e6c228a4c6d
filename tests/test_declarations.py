"""Declarations are validated eagerly; errors name the class, the field and the fix (pure)."""

from __future__ import annotations

import pytest
from boiler import (
    App,
    BoilerError,
    Children,
    DeclarationError,
    DomainModel,
    Join,
    Many,
    Root,
    Sources,
    ViewModel,
    compile_app,
    uid_in_path,
)
from boiler.errors import InvalidDocument
from meeting_room import app as meeting_app
from meeting_room.domain import Location, Meeting, Ticket, User


def test_meeting_room_compiles_one_trigger_per_view_and_source() -> None:
    build = compile_app(meeting_app)
    assert {(t.name, t.document) for t in build.triggers} == {
        ("meeting_session_on_meeting", "meetings/{meetingId}"),
        ("meeting_session_on_location", "locations/{locationId}"),
        ("meeting_session_on_ticket", "meetings/{meetingId}/tickets/{uid}"),
        ("meeting_session_on_user", "users/{uid}"),
        ("meeting_card_on_meeting", "meetings/{meetingId}"),
        ("meeting_card_on_location", "locations/{locationId}"),
        ("meeting_card_on_ticket", "meetings/{meetingId}/tickets/{uid}"),
        # Aggregate views listen to their root and to the view model they aggregate.
        ("agenda_on_user", "users/{uid}"),
        ("agenda_on_meeting_card", "meetingCards/{meetingId}"),
        ("location_board_on_location", "locations/{locationId}"),
        ("location_board_on_meeting_card", "meetingCards/{meetingId}"),
    }


def test_domain_fields_are_camel_case_in_firestore() -> None:
    user = User.from_firestore(
        "users/u1",
        {"firstName": "A", "lastName": "B", "organization": "O", "hearingAidRequested": True},
    )
    assert user.hearing_aid_requested is True
    assert user.to_firestore() == {
        "firstName": "A",
        "lastName": "B",
        "organization": "O",
        "hearingAidRequested": True,
    }


def test_invalid_document_names_path_and_fields() -> None:
    with pytest.raises(InvalidDocument) as caught:
        Ticket.from_firestore("meetings/m1/tickets/u1", {"role": "host", "attendance": "yes"})
    assert caught.value.path == "meetings/m1/tickets/u1"
    assert caught.value.fields == ["attendance"]
    assert "meetings/m1/tickets/u1: attendance:" in str(caught.value)


def test_sources_need_exactly_one_root() -> None:
    with pytest.raises(DeclarationError, match="declare exactly one"):

        class NoRoot(Sources):
            location: Location | None = Join(Location, on="location_id")


def test_join_on_unknown_field_names_the_choices() -> None:
    with pytest.raises(DeclarationError, match=r"Meeting has no field 'place_id'.*location_id"):

        class BadJoin(Sources):
            meeting: Meeting = Root(Meeting)
            location: Location | None = Join(Location, on="place_id")


def test_many_needs_a_list_field() -> None:
    with pytest.raises(DeclarationError, match="must be a list of document ids"):

        class BadMany(Sources):
            meeting: Meeting = Root(Meeting)
            users: dict[str, User] = Many(User, ids="location_id")


def test_children_must_live_under_the_root() -> None:
    class Note(DomainModel, path="notes/{noteId}/lines/{lineId}"):
        text: str

    with pytest.raises(DeclarationError, match="not a subcollection"):

        class BadChildren(Sources):
            meeting: Meeting = Root(Meeting)
            lines: dict[str, Note] = Children(Note)


class _MeetingOnly(Sources):
    meeting: Meeting = Root(Meeting)


def test_view_path_must_contain_the_root_id() -> None:
    with pytest.raises(DeclarationError, match=r"must contain \{meetingId\}"):

        class Lost(ViewModel, path="users/{uid}/lost/{x}", sources=_MeetingOnly):
            title: str


def test_view_path_may_fan_out_over_one_wildcard_only() -> None:
    with pytest.raises(DeclarationError, match="at most one may fan out"):

        class TooWide(ViewModel, path="a/{x}/b/{y}/c/{meetingId}", sources=_MeetingOnly):
            title: str


def test_view_needs_build() -> None:
    class NoBuild(ViewModel, path="meetingTitles/{meetingId}", sources=_MeetingOnly):
        title: str

    with pytest.raises(DeclarationError, match="must define"):
        compile_app(App("x", views=[NoBuild]))


def test_view_written_where_a_source_lives_is_rejected() -> None:
    class Echo(ViewModel, path="meetings/{meetingId}", sources=_MeetingOnly):
        title: str

        @classmethod
        def build(cls, data: _MeetingOnly) -> Echo:
            return cls(title=data.meeting.title)

    with pytest.raises(DeclarationError, match="must not live where a source lives"):
        compile_app(App("x", views=[Echo]))


def test_view_access_is_checked_when_the_class_is_created() -> None:
    with pytest.raises(DeclarationError, match=r"access names \{uid\}") as unknown:

        class Nobody(
            ViewModel,
            path="meetingTitles/{meetingId}",
            sources=_MeetingOnly,
            readable_by=uid_in_path("uid"),
        ):
            title: str

    assert unknown.value.code == "access-unknown-wildcard"
    with pytest.raises(DeclarationError, match="must be an Access") as wrong:

        class Loose(
            ViewModel,
            path="meetingTitles/{meetingId}",
            sources=_MeetingOnly,
            readable_by="everyone",  # type: ignore[arg-type]
        ):
            title: str

    assert wrong.value.code == "access-not-access"


def test_declaration_errors_carry_a_stable_code() -> None:
    with pytest.raises(DeclarationError) as raised:

        class Lost(ViewModel, path="users/{uid}/lost/{x}", sources=_MeetingOnly):
            title: str

    assert raised.value.code == "view-path-missing-key"
    with pytest.raises(DeclarationError) as odd:

        class Odd(DomainModel, path="odd"):
            pass

    assert odd.value.code == "path-odd-segments"
    assert DeclarationError("no code given").code == "invalid-declaration"
    assert issubclass(DeclarationError, BoilerError)


def test_an_undeclared_path_or_spec_names_the_class_and_the_fix() -> None:
    class Loose(DomainModel):
        name: str

    class Draft(ViewModel):
        title: str

    fix = r'Loose has no path: declare it as `class Loose\(DomainModel, path="collection/\{id\}"\)`'
    with pytest.raises(DeclarationError, match=fix):
        Loose.path_template()
    with pytest.raises(DeclarationError, match="Draft is not a declared view model") as raised:
        Draft.spec()
    assert raised.value.code == "view-not-declared"
