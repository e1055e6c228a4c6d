"""Source kinds behind one interface (sources.SourceSpec): the runtime only loops over them.

The pure tests ask each built-in kind the interface's questions. The emulator tests declare two
kinds the framework does not ship (one found by the key in its path, one a Join variant found
through the records' dependencies) and show the compiler, the pipeline and reconcile use them
unchanged; ``fresh_views`` is an oracle written against the same interface.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from boiler import App, DeclarationError, DomainModel, Root, Sources, ViewModel, compile_app
from boiler.errors import InvalidDocument
from boiler.runtime import bookkeeping
from boiler.runtime.pipeline import Outcome, Pipeline
from boiler.runtime.reconcile import reconcile
from boiler.sources import AggregateIndex, Fields, KeyPage, RootSpec, SourceSpec
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from meeting_room.domain import Meeting, Ticket, User
from meeting_room.views import MeetingData

MEETING = Meeting(title="Standup", location_id="l1", participant_ids=["u2", "u1", "u2"])
ROOT_PATH = "meetings/m1"
SPECS = MeetingData.__sources__


class _Index:
    """Records what a kind asks the runtime (pure: no Firestore)."""

    def key_of(self, template_values: Mapping[str, str]) -> str:
        return template_values["meetingId"]

    def dependents(self, document: str) -> Iterator[KeyPage]:
        yield [f"found-through:{document}"], False


# -- the built-in kinds, asked the interface's questions (pure) ------------------------------
def test_each_kind_names_the_documents_and_collections_to_read_for_a_root() -> None:
    asked = {
        name: (spec.paths(MEETING, ROOT_PATH), spec.collections(MEETING, ROOT_PATH))
        for name, spec in SPECS.items()
    }
    assert {name: (list(paths), list(colls)) for name, (paths, colls) in asked.items()} == {
        "meeting": (["meetings/m1"], []),
        "location": (["locations/l1"], []),
        "tickets": ([], ["meetings/m1/tickets"]),
        "participants": (["users/u2", "users/u1"], []),  # list order, each once
    }


def test_only_documents_named_by_root_fields_are_dependencies() -> None:
    dependencies = {
        name: list(spec.dependencies(MEETING, ROOT_PATH)) for name, spec in SPECS.items()
    }
    assert dependencies == {
        "meeting": [],
        "location": ["locations/l1"],
        "tickets": [],
        "participants": ["users/u2", "users/u1"],
    }


def test_each_kind_assembles_what_build_sees_from_the_documents_read() -> None:
    user = {"firstName": "Bo", "lastName": "Ma", "organization": "Initech"}
    documents: dict[str, Fields] = {
        "meetings/m1": MEETING.to_firestore(),
        "locations/l1": None,  # does not exist
        "users/u2": user,
        "meetings/m1/tickets/u2": {"attendance": True},
        "meetings/m2/tickets/u1": {"attendance": True},  # another aggregate's child
    }
    loaded = {name: spec.assemble(MEETING, ROOT_PATH, documents) for name, spec in SPECS.items()}
    assert loaded == {
        "meeting": MEETING,
        "location": None,
        "tickets": {"u2": Ticket(attendance=True)},
        "participants": {"u2": User.model_validate(user)},
    }


def test_a_change_finds_its_aggregates_by_key_or_through_dependencies() -> None:
    changes = {
        "meeting": ("meetings/m1", {"meetingId": "m1"}),
        "tickets": ("meetings/m1/tickets/u1", {"meetingId": "m1", "uid": "u1"}),
        "location": ("locations/l1", {"locationId": "l1"}),
        "participants": ("users/u1", {"uid": "u1"}),
    }
    found = {
        name: list(SPECS[name].affected(document, values, _Index()))
        for name, (document, values) in changes.items()
    }
    assert found == {
        "meeting": [(["m1"], False)],
        "tickets": [(["m1"], False)],
        "location": [(["found-through:locations/l1"], False)],
        "participants": [(["found-through:users/u1"], False)],
    }


def test_an_empty_join_field_names_no_document() -> None:
    no_place = Meeting(title="Remote", location_id="", participant_ids=[])
    location = SPECS["location"]
    assert list(location.paths(no_place, ROOT_PATH)) == []
    assert location.assemble(no_place, ROOT_PATH, {"locations/": {"address": "x"}}) is None


def test_ids_that_are_no_document_ids_make_the_root_invalid() -> None:
    bad = Meeting(title="Bad", location_id="l1", participant_ids=["u1", "a/b"])
    with pytest.raises(InvalidDocument) as raised:
        SPECS["participants"].paths(bad, ROOT_PATH)
    assert raised.value.path == ROOT_PATH
    assert raised.value.fields == ["participantIds.1"]


# -- two kinds the framework does not ship, declared here ------------------------------------
class Team(DomainModel, path="teams/{teamId}"):
    name: str
    member_ids: list[str] = []


class Member(DomainModel, path="members/{memberId}"):
    name: str


class TeamScore(DomainModel, path="teamScores/{teamId}"):
    points: int


class Note(DomainModel, path="teams/{teamId}/notes/{noteId}"):
    text: str


@dataclass(frozen=True)
class SameIdSpec(SourceSpec):
    """The document with the root's id in another top-level collection (``None`` if absent)."""

    def validate(self, owner: type, root: RootSpec) -> None:
        if len(self.template.wildcards) != 1 or self.template.id_wildcard is None:
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: {self.model.__name__} ({self.template}) must "
                "live in a top-level collection, e.g. path='teamScores/{teamId}'"
            )

    def paths(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> Sequence[str]:
        key = root_path.rsplit("/", 1)[1]
        return (self.template.format(**{self.template.wildcards[0]: key}),)

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        [path] = self.paths(root, root_path)
        raw = documents.get(path)
        return None if raw is None else self.model.from_firestore(path, raw)

    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        yield [values[self.template.wildcards[0]]], False  # its id is the aggregate key


@dataclass(frozen=True)
class FirstOfSpec(SourceSpec):
    """A Join variant: the document named by the first id of a list field of the root."""

    ids: str = ""

    def validate(self, owner: type, root: RootSpec) -> None:
        if self.ids not in root.model.model_fields:
            raise DeclarationError(f"{owner.__name__}.{self.name}: no field {self.ids!r}")

    def paths(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> Sequence[str]:
        ids = getattr(root, self.ids)
        return [self.template.format(**{self.template.wildcards[0]: ids[0]})] if ids else []

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        for path in self.paths(root, root_path):
            if (raw := documents.get(path)) is not None:
                return self.model.from_firestore(path, raw)
        return None

    def dependencies(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> Sequence[str]:
        return self.paths(root, root_path)

    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        return index.dependents(document)


def SameId(model: type[DomainModel]) -> Any:  # noqa: N802 - reads like a field declaration
    return SameIdSpec(model)


def FirstOf(model: type[DomainModel], *, ids: str) -> Any:  # noqa: N802
    return FirstOfSpec(model, ids=ids)


class TeamData(Sources):
    team: Team = Root(Team)
    score: TeamScore | None = SameId(TeamScore)
    captain: Member | None = FirstOf(Member, ids="member_ids")


class TeamCard(ViewModel, path="teamCards/{teamId}", sources=TeamData):
    name: str
    captain: str | None
    points: int | None

    @classmethod
    def build(cls, data: TeamData) -> TeamCard:
        return cls(
            name=data.team.name,
            captain=data.captain.name if data.captain else None,
            points=data.score.points if data.score else None,
        )


TEAMS = compile_app(App("teams", domain=[Team, Member, TeamScore], views=[TeamCard]))


def test_a_new_kind_is_validated_at_declaration() -> None:
    with pytest.raises(DeclarationError, match=r"Bad\.notes: Note .* top-level collection"):

        class Bad(Sources):
            team: Team = Root(Team)
            notes: Note | None = SameId(Note)


def test_a_new_kind_gets_its_own_trigger() -> None:
    assert {(t.name, t.document) for t in TEAMS.triggers} == {
        ("team_card_on_team", "teams/{teamId}"),
        ("team_card_on_team_score", "teamScores/{teamId}"),
        ("team_card_on_member", "members/{memberId}"),
    }


def deliver(db: firestore.Client, source: str, document: str) -> Outcome:
    trigger = TEAMS.trigger(f"team_card_on_{source}")
    return Pipeline(trigger, client=db).handle(uuid.uuid4().hex, document)


def card(db: firestore.Client) -> dict[str, Any] | None:
    return db.document("teamCards/t1").get().to_dict()


def test_the_pipeline_and_reconcile_use_new_kinds_unchanged(firestore: firestore.Client) -> None:
    db = firestore
    db.document("members/m1").set({"name": "Ada"})
    db.document("members/m2").set({"name": "Bea"})
    db.document("teams/t1").set({"name": "Owls", "memberIds": ["m2", "m1"]})
    assert deliver(db, "team", "teams/t1").views_written == 1
    assert card(db) == {"name": "Owls", "captain": "Bea", "points": None}
    record = bookkeeping.aggregate_ref(db, "TeamCard", "t1").get().to_dict() or {}
    assert record["deps"] == ["members/m2"]  # the score is found by its key, not its record

    db.document("teamScores/t1").set({"points": 3})  # found by the key in its path
    outcome = deliver(db, "team_score", "teamScores/t1")
    assert (outcome.aggregates, card(db)) == (1, {"name": "Owls", "captain": "Bea", "points": 3})

    db.document("members/m2").update({"name": "Bee"})  # found through the record's deps
    outcome = deliver(db, "member", "members/m2")
    assert (outcome.aggregates, card(db)) == (1, {"name": "Owls", "captain": "Bee", "points": 3})
    db.document("members/m1").update({"name": "Ann"})  # not the captain: nothing to rebuild
    assert deliver(db, "member", "members/m1").aggregates == 0

    db.document("teams/t1").update({"memberIds": ["m1"]})
    deliver(db, "team", "teams/t1")
    assert card(db) == {"name": "Owls", "captain": "Ann", "points": 3}
    db.document("teamScores/t1").delete()
    deliver(db, "team_score", "teamScores/t1")
    assert stored_views(TeamCard, db) == expected_views(TeamCard, db)
    assert card(db) == {"name": "Owls", "captain": "Ann", "points": None}
    assert reconcile(TeamCard, db).repaired == 0
