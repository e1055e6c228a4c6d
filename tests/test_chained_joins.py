"""Chained joins: a join from a joined document (badge -> person -> organization), and from
each of many (team -> members -> their organizations), kept by the real pipeline on the
emulator and checked against the oracle after every change."""

from __future__ import annotations

import pytest
from boiler import (
    App,
    DeclarationError,
    DomainModel,
    Join,
    Many,
    Root,
    Sources,
    ViewModel,
    compile_app,
)
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore

from . import triggers


class Organization(DomainModel, path="organizations/{orgId}"):
    name: str


class Person(DomainModel, path="people/{personId}"):
    name: str
    organization_id: str = ""


class Badge(DomainModel, path="badges/{badgeId}"):
    person_id: str


class Team(DomainModel, path="teams/{teamId}"):
    member_ids: list[str] = []


class BadgeData(Sources):
    badge: Badge = Root(Badge)
    person: Person | None = Join(Person, on="person_id")
    organization: Organization | None = Join(Organization, on="organization_id", of="person")


class BadgeView(ViewModel, path="badgeViews/{badgeId}", sources=BadgeData):
    holder: str | None
    organization: str | None

    @classmethod
    def build(cls, data: BadgeData) -> BadgeView:
        return cls(
            holder=data.person.name if data.person else None,
            organization=data.organization.name if data.organization else None,
        )


class TeamData(Sources):
    team: Team = Root(Team)
    members: dict[str, Person] = Many(Person, ids="member_ids")
    organizations: dict[str, Organization] = Join(Organization, on="organization_id", of="members")


class TeamView(ViewModel, path="teamViews/{teamId}", sources=TeamData):
    members: list[str]  # "name (organization)"

    @classmethod
    def build(cls, data: TeamData) -> TeamView:
        def label(pid: str, person: Person) -> str:
            org = data.organizations.get(pid)
            return f"{person.name} ({org.name if org else '-'})"

        return cls(members=[label(pid, p) for pid, p in sorted(data.members.items())])


APP = App("chains", domain=[Organization, Person, Badge, Team], views=[BadgeView, TeamView])
BUILD = compile_app(APP)


def write(db: firestore.Client, path: str, fields: dict | None) -> None:
    triggers.write(BUILD, db, path, fields)


def exact(db: firestore.Client) -> dict:
    for view in (BadgeView, TeamView):
        assert stored_views(view, db) == expected_views(view, db), view.__name__
    return {**stored_views(BadgeView, db), **stored_views(TeamView, db)}


def test_a_change_two_hops_away_reaches_every_view(firestore: firestore.Client) -> None:
    db = firestore
    write(db, "organizations/acme", {"name": "Acme"})
    write(db, "organizations/globex", {"name": "Globex"})
    write(db, "people/p1", {"name": "Ann", "organizationId": "acme"})
    write(db, "people/p2", {"name": "Bo", "organizationId": "globex"})
    write(db, "badges/b1", {"personId": "p1"})
    write(db, "teams/t1", {"memberIds": ["p1", "p2"]})
    views = exact(db)
    assert views["badgeViews/b1"] == {"holder": "Ann", "organization": "Acme"}
    assert views["teamViews/t1"] == {"members": ["Ann (Acme)", "Bo (Globex)"]}

    write(db, "organizations/acme", {"name": "Acme Corp"})  # two hops from the roots
    views = exact(db)
    assert views["badgeViews/b1"]["organization"] == "Acme Corp"
    assert views["teamViews/t1"]["members"][0] == "Ann (Acme Corp)"

    write(db, "people/p1", {"name": "Ann", "organizationId": "globex"})  # the middle moves
    write(db, "organizations/acme", {"name": "Acme again"})  # no longer read: nothing to do
    views = exact(db)
    assert views["badgeViews/b1"]["organization"] == "Globex"

    write(db, "organizations/globex", None)
    views = exact(db)
    assert views["badgeViews/b1"] == {"holder": "Ann", "organization": None}
    assert views["teamViews/t1"]["members"] == ["Ann (-)", "Bo (-)"]
    write(db, "organizations/globex", {"name": "Globex 2"})
    assert exact(db)["teamViews/t1"]["members"] == ["Ann (Globex 2)", "Bo (Globex 2)"]


def test_an_invalid_id_in_the_middle_holds_back_only_its_aggregate(
    firestore: firestore.Client,
) -> None:
    db = firestore
    write(db, "organizations/acme", {"name": "Acme"})
    write(db, "people/p1", {"name": "Ann", "organizationId": "acme"})
    write(db, "people/p2", {"name": "Bo", "organizationId": "acme"})
    write(db, "badges/b1", {"personId": "p1"})
    write(db, "badges/b2", {"personId": "p2"})
    before = exact(db)
    write(db, "people/p1", {"name": "Ann", "organizationId": "a/b"})
    assert db.document("badgeViews/b1").get().to_dict() == before["badgeViews/b1"]
    errors = [e.to_dict() for e in db.collection("_boilerErrors").stream()]
    assert any(e.get("sourcePath") == "people/p1" for e in errors), errors
    write(db, "organizations/acme", {"name": "Acme 2"})
    assert db.document("badgeViews/b2").get().to_dict()["organization"] == "Acme 2"
    write(db, "people/p1", {"name": "Ann", "organizationId": "acme"})  # fixed
    assert exact(db)["badgeViews/b1"]["organization"] == "Acme 2"


@pytest.mark.parametrize(
    ("of", "on", "code", "words"),
    [
        ("nobody", "organization_id", "join-of-unknown", ["of='nobody'", "['person']"]),
        ("badge", "organization_id", "join-of-unknown", ["declared above it"]),
        ("person", "org", "invalid-declaration", ["Person has no field 'org'", "organization_id"]),
    ],
)
def test_a_chained_join_names_a_source_above_it_and_a_field_it_has(
    of: str, on: str, code: str, words: list[str]
) -> None:
    with pytest.raises(DeclarationError) as raised:
        type(
            "Broken",
            (Sources,),
            {
                "__annotations__": {"badge": Badge, "person": Person, "org": Organization},
                "badge": Root(Badge),
                "person": Join(Person, on="person_id"),
                "org": Join(Organization, on=on, of=of),
            },
        )
    assert raised.value.code == code
    for word in words:
        assert word in str(raised.value), str(raised.value)
