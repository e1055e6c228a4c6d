"""Path templates: parsing, matching, formatting, overlap (pure)."""

from __future__ import annotations

import pytest
from boiler import DeclarationError, PathTemplate


def test_match_and_format_round_trip() -> None:
    template = PathTemplate.parse("users/{uid}/meetingSessions/{meetingId}")
    assert template.wildcards == ("uid", "meetingId")
    assert template.match("users/u1/meetingSessions/m9") == {"uid": "u1", "meetingId": "m9"}
    assert template.format(uid="u1", meetingId="m9") == "users/u1/meetingSessions/m9"


@pytest.mark.parametrize(
    "path",
    [
        "users/u1",
        "users/u1/meetingSessions",
        "users/u1/other/m1",
        "users/u1/meetingSessions/m1/x/y",
    ],
)
def test_match_rejects_other_paths(path: str) -> None:
    assert PathTemplate.parse("users/{uid}/meetingSessions/{meetingId}").match(path) is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("users", "even number"),
        ("{col}/x", "collection segment"),
        ("users/{uid}/items/{uid}", "twice"),
        ("users/a b", "neither a literal"),
    ],
)
def test_bad_templates_are_declaration_errors(text: str, complaint: str) -> None:
    with pytest.raises(DeclarationError, match=complaint):
        PathTemplate.parse(text)


def test_format_refuses_ids_that_would_change_the_path() -> None:
    template = PathTemplate.parse("users/{uid}")
    for bad in ("", "a/b"):
        with pytest.raises(ValueError, match="needs a document id"):
            template.format(uid=bad)


def test_parent_collection_and_id_wildcard() -> None:
    template = PathTemplate.parse("meetings/{meetingId}/tickets/{uid}")
    assert template.parent == PathTemplate.parse("meetings/{meetingId}")
    assert template.collection == "meetings/{meetingId}/tickets"
    assert template.id_wildcard == "uid"
    assert PathTemplate.parse("meetings/{meetingId}").parent is None


def test_overlap_considers_wildcards() -> None:
    views = PathTemplate.parse("users/{uid}/meetingSessions/{meetingId}")
    assert views.overlaps(PathTemplate.parse("users/{x}/meetingSessions/{z}"))
    assert views.overlaps(PathTemplate.parse("users/u1/meetingSessions/{m}"))
    assert not views.overlaps(PathTemplate.parse("meetings/{meetingId}/tickets/{uid}"))
    assert not views.overlaps(PathTemplate.parse("users/{uid}"))


def test_collection_ids_are_the_literal_segments_overlapping_paths_share() -> None:
    template = PathTemplate.parse("meetings/{meetingId}/tickets/{uid}")
    assert template.collection_ids == ("meetings", "tickets")
    assert template.overlaps(PathTemplate.parse("meetings/m1/tickets/{id}"))
    assert PathTemplate.parse("meetings/m1/tickets/{id}").collection_ids == template.collection_ids
