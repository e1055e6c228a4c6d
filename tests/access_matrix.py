"""The access matrix the rules tests and the HTTP API tests share: one world, the actors, one
sample document per collection, and what boiler's access evaluator says each actor may do.

The expected outcome of a case comes from ``boiler.access_evaluator`` deciding the
``readable_by``/``creatable_by`` declarations in Python; tests/test_rules.py checks the
generated rules against it in the Firestore emulator, tests/test_api_e2e.py the HTTP API in the
functions emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from boiler import PathTemplate, compile_app
from boiler.access import Access, UidInField, firestore_field
from boiler.access_evaluator import allowed, may_list
from boiler.runtime.bookkeeping import INTERNAL_COLLECTIONS
from meeting_room import (
    Agenda,
    AttendanceRequest,
    LocationBoard,
    MeetingCard,
    MeetingSession,
    StatusRequest,
    app,
)

BUILD = compile_app(app)

WORLD: dict[str, dict[str, Any]] = {
    "users/u1": {
        "firstName": "Ann",
        "lastName": "Lee",
        "organization": "Acme",
        "hearingAidRequested": False,
    },
    "users/u2": {
        "firstName": "Bo",
        "lastName": "Ma",
        "organization": "Initech",
        "hearingAidRequested": True,
    },
    "users/u3": {
        "firstName": "Cy",
        "lastName": "No",
        "organization": "Acme",
        "hearingAidRequested": False,
    },
    "locations/l1": {"address": "1 Main St", "latitude": 52.5, "longitude": 13.4},
    "meetings/m1": {
        "title": "Kickoff",
        "locationId": "l1",
        "status": "in-session",
        "participantIds": ["u1", "u2"],
    },
    "meetings/m1/tickets/u1": {"role": "host", "attendance": True},
    "meetings/m1/tickets/u2": {"role": "participant", "attendance": False},
}
VIEW = {
    "meetingId": "m1",
    "title": "Kickoff",
    "address": "1 Main St",
    "latitude": 52.5,
    "longitude": 13.4,
    "inSession": True,
    "attending": [],
    "numAttending": 0,
    "numHearingAidRequested": 0,
}


@dataclass(frozen=True)
class Actor:
    name: str
    uid: str | None
    claims: dict[str, Any] = field(default_factory=dict)


ACTORS = [
    Actor("unauthenticated", None),
    Actor("owner", "u2"),  # a participant: the uid in the sample view/command paths
    Actor("other user", "u3"),  # signed in, not in the meeting
    Actor("host", "u1"),  # a participant whose ticket role is host
    Actor("admin claim", "root", {"admin": True}),
]


@dataclass(frozen=True)
class Sample:
    """One document of a collection: what exists, and what a client would create there."""

    kind: str
    model: type
    path: str
    stored: dict[str, Any]
    access_read: Access | None
    access_create: Access | None
    payload: Any = None  # actor uid -> create payload

    def params(self, path: str) -> dict[str, str]:
        template = getattr(self.model, "__path_template__", None) or PathTemplate.parse("c/{id}")
        return template.match(path) or {}


def samples() -> list[Sample]:
    samples = [
        Sample(
            "view",
            MeetingSession,
            "users/u2/meetingSessions/m1",
            VIEW,
            MeetingSession.spec().readable_by,
            None,
            lambda uid: VIEW,
        ),
        Sample(
            "command",
            AttendanceRequest,
            "users/u2/attendanceRequests/r0",
            {"meetingId": "m1", "attendance": True},
            AttendanceRequest.spec().readable_by,
            AttendanceRequest.spec().creatable_by,
            lambda uid: {"meetingId": "m1", "attendance": True},
        ),
        Sample(
            "command",
            StatusRequest,
            "meetings/m1/statusRequests/s0",
            {"newStatus": "closed", "requestedBy": "u2"},
            StatusRequest.spec().readable_by,
            StatusRequest.spec().creatable_by,
            lambda uid: {"newStatus": "closed", "requestedBy": uid or "u2"},
        ),
    ]
    for view, path, stored in [
        (MeetingCard, "meetingCards/m1", {"meetingId": "m1", "title": "T"}),
        (Agenda, "agendas/u2", {"uid": "u2", "meetings": [], "numUpcoming": 0}),
        (LocationBoard, "locationBoards/l1", {"locationId": "l1", "meetingsTotal": 1}),
    ]:
        samples.append(
            Sample(
                "view", view, path, stored, view.spec().readable_by, None, lambda uid, d=stored: d
            )
        )
    assert {s.model for s in samples} == {*BUILD.app.views, *(c.command for c in BUILD.commands)}
    ids = {"uid": "u2", "meetingId": "m1", "locationId": "l1"}
    for model in BUILD.app.domain:
        template = model.path_template()
        path = template.format(**{w: ids[w] for w in template.wildcards})
        samples.append(
            Sample("domain", model, path, WORLD[path], None, None, lambda uid, p=path: WORLD[p])
        )
    for collection in INTERNAL_COLLECTIONS:
        samples.append(
            Sample(
                "internal",
                type(collection, (), {}),
                f"{collection}/x",
                {"a": 1},
                None,
                None,
                lambda uid: {"a": 1},
            )
        )
    return samples


def allows(
    access: Access | None, actor: Actor, params: dict[str, str], data: dict[str, Any], owner: type
) -> bool:
    """What boiler's access evaluator decides, independently of the generated rules text."""
    return allowed(
        access,
        model=owner,
        uid=actor.uid,
        claims=actor.claims,
        path_params=params,
        fields=data,
        lookup=WORLD.get,
    )


@dataclass(frozen=True)
class Case:
    sample: Sample
    actor: Actor
    operation: Literal["get", "list", "query", "create", "update", "delete"]

    @property
    def id(self) -> str:
        actor = self.actor.name.replace(" ", "_")
        return f"{self.sample.path.split('/')[-2]}-{actor}-{self.operation}"

    def expected(self) -> bool:
        sample, actor = self.sample, self.actor
        params = sample.params(sample.path)
        if self.operation == "get":
            return allows(sample.access_read, actor, params, sample.stored, sample.model)
        if self.operation == "list":  # a plain list: only what holds for every document
            if sample.access_read is None:
                return False
            template = sample.model.__path_template__
            return may_list(
                sample.access_read,
                model=sample.model,
                id_wildcard=template.id_wildcard,
                uid=actor.uid,
                claims=actor.claims,
                path_params={k: v for k, v in params.items() if k != template.id_wildcard},
                lookup=WORLD.get,
            )
        if self.operation == "query":  # filtered to the actor's own documents
            return allows(
                sample.access_read, actor, params, {**sample.stored, **self._own()}, sample.model
            )
        if self.operation == "create":
            return allows(
                sample.access_create, actor, params, sample.payload(actor.uid), sample.model
            )
        return False  # update, delete: never by a client

    def _own(self) -> dict[str, Any]:
        read = self.sample.access_read
        fields = [
            firestore_field(self.sample.model, c.field)
            for c in (read.conditions() if read else [])
            if isinstance(c, UidInField)
        ]
        return {name: self.actor.uid for name in fields}
