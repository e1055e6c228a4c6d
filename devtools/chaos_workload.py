"""The chaos workload: random meeting-room writes and commands on small id pools, so they collide.

Besides valid writes it makes documents invalid on purpose (wrongly typed fields; ids that
Firestore rejects in ``participantIds``/``locationId``), gives a few users a large field no
model declares, grows some meetings to many participants, and creates commands
(``AttendanceRequest``, ``StatusRequest``) that race those writes and each other. ``heal()``
makes every domain document valid again: the oracle (a from-scratch build) needs that::

    workload = MeetingRoomWorkload(client, random.Random(7), config, app.domain)
    writes = workload.step()          # a few writes, each with the event Firestore would emit
    writes = workload.heal()          # every still-invalid document rewritten valid or deleted
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boiler.documents import DomainModel
from boiler.errors import InvalidDocument
from google.cloud import firestore

if TYPE_CHECKING:
    from .chaos import ChaosConfig

# Ids Firestore refuses as document ids: a meeting naming one is an invalid document.
BAD_IDS = ("", "a/b", "__x__", "..", ".")
ID_FIELDS = ("locationId", "participantIds")  # fields holding the ids of joined documents
STATUSES = ("not-started", "in-session", "closed")
STATUS_WEIGHTS = (4, 4, 1)  # closed is final for commands: keep most meetings open
NEXT_STATUS = {"not-started": ("in-session", "closed"), "in-session": ("closed",), "closed": ()}
DROP = object()  # a corruption that removes a required field
# How each kind of document is made invalid: (field, wrong value).
CORRUPTIONS: dict[str, list[tuple[str, object]]] = {
    "users": [("hearingAidRequested", "yes"), ("firstName", 5), ("lastName", DROP)],
    "meetings": [("participantIds", "x"), ("status", "paused"), ("title", None)],
    "tickets": [("attendance", "yes"), ("role", 3)],
    "locations": [("latitude", "north")],
}
# The first operations of every run, then random ones; ``finale`` ends a run.
PRELUDE = ("crowd", "oversized", "meeting", "invalid", "bad_id", "status_request", "burst")
FINALE = ("invalid", "bad_id")  # documents the heal must fix, written last
KINDS = {  # operation: weight
    "user": 10,
    "user_delete": 2,
    "location": 5,
    "location_delete": 1,
    "meeting": 6,
    "meeting_update": 8,
    "meeting_delete": 1,
    "add": 10,
    "remove": 6,
    "attendance": 25,
    "invalid": 6,
    "bad_id": 4,
    "crowd": 1,
    "crowd_user": 2,
    "attendance_request": 10,
    "status_request": 5,
    "burst": 8,  # ChaosConfig.burst_weight overrides it
    "withdraw": 1,
}


@dataclass
class Write:
    """One write and the event Firestore would emit for it."""

    path: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    event_id: str
    created: bool = False  # a command document: its trigger is ``on_document_created``


@dataclass
class CommandDoc:
    """A command the workload created, and what its ordering is per (``target``)."""

    path: str
    kind: str  # "AttendanceRequest" | "StatusRequest"
    target: str  # the document it would change
    event_id: str


@dataclass
class WorkloadCounts:
    invalid: int = 0  # writes leaving a document with a wrongly typed or missing field
    bad_ids: int = 0  # meeting writes naming an id Firestore rejects
    oversized: int = 0  # user writes carrying the large undeclared field
    fixed: int = 0  # invalid documents a later workload write made valid again
    healed: int = 0  # still-invalid documents rewritten (or deleted) by heal()
    largest_meeting: int = 0  # most participants of one meeting write
    by_kind: dict[str, int] = field(default_factory=dict)


def id_problem(value: object) -> str | None:
    """Why Firestore would refuse ``value`` as a document id (the oracle's own, simple rule)."""
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        return f"bad id {value!r}"
    if value.startswith("__") and value.endswith("__"):
        return f"reserved id {value!r}"
    return None


class MeetingRoomWorkload:
    """Random meeting-room writes and commands, mirrored locally (the only domain writer).

    ``docs`` mirrors what the workload wrote; ``heal_to`` holds, for each document it left
    invalid, the valid version a later change starts from (so that change makes it valid).
    Commands change tickets and meetings too; the mirror does not follow them (a later
    workload write simply races them, last write wins).
    """

    def __init__(
        self,
        client: firestore.Client,
        rng: random.Random,
        config: ChaosConfig,
        domain: Sequence[type[DomainModel]],
    ) -> None:
        self.client, self.rng, self.config, self.domain = client, rng, config, domain
        self.docs: dict[str, dict[str, Any]] = {}
        self.heal_to: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, CommandDoc] = {}
        self.withdrawn: set[str] = set()  # commands their client deleted (maybe unprocessed)
        self.counts = WorkloadCounts()
        self._sequence = 0

    # -- bookkeeping -----------------------------------------------------------------------
    def _ids(self, prefix: str, count: int) -> list[str]:
        return [f"{prefix}{n}" for n in range(count)]

    def _existing(self, prefix: str) -> list[str]:
        return sorted(
            p.split("/")[1] for p in self.docs if p.startswith(prefix) and p.count("/") == 1
        )

    def _event_id(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128)).hex

    def base(self, path: str, name: str | None = None) -> Any:
        """The document (or its field ``name``) as last written valid: a change starts from it
        (and so fixes it)."""
        document = self.heal_to.get(path, self.docs.get(path))
        return document if name is None else (document or {}).get(name)

    def write(
        self, path: str, after: dict[str, Any] | None, valid: dict[str, Any] | None = None
    ) -> Write:
        """Write ``after`` (None: delete); ``valid`` given: ``after`` is its invalid variant."""
        before = self.docs.get(path)
        ref = self.client.document(path)
        if self.heal_to.pop(path, None) is not None and valid is None:
            self.counts.fixed += 1
        if after is None:
            ref.delete()
            self.docs.pop(path, None)
        else:
            ref.set(after)
            self.docs[path] = after
            if valid is not None:
                self.heal_to[path] = valid
        return Write(path, before, after, self._event_id())

    # -- documents ---------------------------------------------------------------------------
    def _user(self, uid: str) -> dict[str, Any]:
        rng = self.rng
        user: dict[str, Any] = {
            "firstName": rng.choice(["Ann", "Bo", "Cy", "Di"]) + str(rng.randrange(100)),
            "lastName": rng.choice(["Lee", "Ma", "No"]),
            "organization": rng.choice(["Acme", "Initech"]),
            "hearingAidRequested": rng.random() < 0.3,
        }
        if uid in self._ids("u", self.config.oversized_users):
            # A field no model declares, large enough that three such users pass 1 MiB.
            size = rng.randrange(self.config.avatar_bytes * 85 // 100, self.config.avatar_bytes)
            user["avatar"] = "a" * size
            self.counts.oversized += 1
        return user

    def _status(self) -> str:
        return self.rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]

    def _ticket(self, role: str = "participant") -> dict[str, Any]:
        return {"role": role, "attendance": self.rng.random() < 0.5}

    def _new_meeting(self, meeting_id: str, participants: list[str]) -> list[Write]:
        rng = self.rng
        location = rng.choice(self._ids("l", self.config.locations))
        meeting = {
            "title": f"Meeting {rng.randrange(1000)}",
            "locationId": location,
            "status": self._status(),
            "participantIds": participants,
        }
        self.counts.largest_meeting = max(self.counts.largest_meeting, len(participants))
        path = f"meetings/{meeting_id}"
        writes = [self.write(path, meeting)]
        for index, uid in enumerate(participants):
            role = "host" if index == 0 and rng.random() < 0.7 else "participant"
            writes.append(self.write(f"{path}/tickets/{uid}", self._ticket(role)))
        return writes

    def _meeting_id(self) -> str:
        """Mostly a free id: replacing a live meeting's participants rejects its commands."""
        pool = self._ids("m", self.config.meetings)
        free = [m for m in pool if f"meetings/{m}" not in self.docs]
        return self.rng.choice(free if free and self.rng.random() < 0.8 else pool)

    def _invalid(self) -> list[Write]:
        """A valid document, then one field broken: the write leaves it invalid."""
        rng = self.rng
        meetings = self._existing("meetings/")
        tickets = sorted(p for p in self.docs if "/tickets/" in p)
        kind = rng.choice(["users", "meetings", "tickets", "tickets", "locations"])
        if kind == "meetings" and meetings:
            path = f"meetings/{rng.choice(meetings)}"
            valid = self.base(path) or {}
        elif kind == "tickets" and tickets:
            path = rng.choice(tickets)
            valid = self.base(path) or self._ticket()
        elif kind == "locations":
            path = f"locations/{rng.choice(self._ids('l', self.config.locations))}"
            valid = {"address": "1 Main St", "latitude": 1.0, "longitude": 2.0}
        else:
            kind, uid = "users", rng.choice(self._ids("u", self.config.users))
            path, valid = f"users/{uid}", self._user(uid)
        name, value = rng.choice(CORRUPTIONS[kind])
        broken = {k: v for k, v in valid.items() if k != name}
        if value is not DROP:
            broken[name] = value
        self.counts.invalid += 1
        return [self.write(path, broken, valid=valid)]

    def _bad_id(self, meeting_id: str) -> list[Write]:
        path = f"meetings/{meeting_id}"
        valid = self.base(path) or {}
        broken = dict(valid)
        bad = self.rng.choice(BAD_IDS)
        if self.rng.random() < 0.6:
            broken["participantIds"] = [*valid["participantIds"], bad]
        else:
            broken["locationId"] = bad
        self.counts.bad_ids += 1
        return [self.write(path, broken, valid=valid)]

    def _crowd(self) -> list[Write]:
        """A meeting with many participants (the crowd users exist from the first one on)."""
        rng, crowd = self.rng, self._ids("c", self.config.crowd)
        writes = [
            self.write(f"users/{uid}", self._user(uid)) for uid in crowd if uid not in self.docs
        ]
        size = rng.randrange(len(crowd) // 2, len(crowd) + 1)
        participants = rng.sample(crowd, size) + rng.sample(
            self._ids("u", self.config.users), rng.randrange(0, 3)
        )
        rng.shuffle(participants)
        return writes + self._new_meeting(self._meeting_id(), participants)

    # -- commands ----------------------------------------------------------------------------
    def _command(self, path: str, kind: str, target: str, data: dict[str, Any]) -> Write:
        """Created with the admin client (past the rules), as a client would create it."""
        self.client.document(path).create(data)
        write = Write(path, None, data, self._event_id(), created=True)
        self.commands[path] = CommandDoc(path, kind, target, write.event_id)
        return write

    def _withdraw(self) -> None:
        """A client deletes a recent request, often before (or while) it is processed."""
        recent = [p for p in list(self.commands)[-8:] if p not in self.withdrawn]
        if recent:
            path = self.rng.choice(recent)
            self.client.document(path).delete()  # no trigger listens to command deletes
            self.withdrawn.add(path)

    def _request_id(self) -> str:
        self._sequence += 1
        return f"r{self._sequence:05d}"

    def _attendance_target(self) -> tuple[str, str]:
        """(uid, meeting id): mostly a participant of an existing meeting, sometimes not."""
        rng = self.rng
        meetings = self._existing("meetings/")
        if not meetings or rng.random() < 0.08:
            return rng.choice(self._ids("u", self.config.users)), rng.choice(
                [*self._ids("m", self.config.meetings), "", "a/b"]
            )
        open_ones = [m for m in meetings if self.base(f"meetings/{m}", "status") != "closed"]
        meeting_id = rng.choice(open_ones or meetings)
        participants = self.base(f"meetings/{meeting_id}", "participantIds") or []
        if participants and rng.random() < 0.85:
            return rng.choice(participants), meeting_id
        return rng.choice(self._ids("u", self.config.users)), meeting_id

    def _attendance_request(self, uid: str, meeting_id: str, attendance: object) -> Write:
        target = f"meetings/{meeting_id}/tickets/{uid}"
        path = f"users/{uid}/attendanceRequests/{self._request_id()}"
        data = {"meetingId": meeting_id, "attendance": attendance}
        return self._command(path, "AttendanceRequest", target, data)

    def _status_request(self, meeting_id: str, requested_by: str | None = None) -> Write:
        rng = self.rng
        meeting = self.base(f"meetings/{meeting_id}") or {}
        participants = meeting.get("participantIds", [])
        hosts = [
            uid
            for uid in participants
            if (self.base(f"meetings/{meeting_id}/tickets/{uid}") or {}).get("role") == "host"
        ]
        if requested_by is None:
            pool = hosts if hosts and rng.random() < 0.7 else participants
            requested_by = rng.choice(pool or self._ids("u", self.config.users))
        path = f"meetings/{meeting_id}/statusRequests/{self._request_id()}"
        allowed = NEXT_STATUS.get(str(meeting.get("status")), ())
        # Mostly a move the life cycle allows (from the status as last written here).
        status = rng.choice(allowed) if allowed and rng.random() < 0.7 else rng.choice(STATUSES)
        data = {"newStatus": status, "requestedBy": requested_by}
        return self._command(path, "StatusRequest", f"meetings/{meeting_id}", data)

    def _burst(self) -> list[Write]:
        """Several commands for one target in a row: delivered out of order, some superseded."""
        rng = self.rng
        count = rng.randrange(2, 6)
        meetings = self._existing("meetings/")
        if meetings and rng.random() < 0.35:
            meeting_id = rng.choice(meetings)
            first = self._status_request(meeting_id)
            requested_by = first.after["requestedBy"] if first.after else None
            return [first] + [
                self._status_request(meeting_id, requested_by) for _ in range(count - 1)
            ]
        uid, meeting_id = self._attendance_target()
        start = rng.random() < 0.5
        return [
            self._attendance_request(uid, meeting_id, (start + n) % 2 == 1) for n in range(count)
        ]

    # -- one random operation ------------------------------------------------------------------
    def step(self) -> list[Write]:
        rng = self.rng
        weights = {**KINDS, "burst": self.config.burst_weight}
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        done = sum(self.counts.by_kind.values())
        if done < len(PRELUDE):
            kind = PRELUDE[done]  # every run has each class at least once, whatever the seed
        self.counts.by_kind[kind] = self.counts.by_kind.get(kind, 0) + 1
        uid = rng.choice(self._ids("u", self.config.users))
        location = rng.choice(self._ids("l", self.config.locations))
        meetings = self._existing("meetings/")
        if kind == "user":
            return [self.write(f"users/{uid}", self._user(uid))]
        if kind == "oversized":
            large = self._ids("u", self.config.oversized_users)
            return [self.write(f"users/{uid}", self._user(uid)) for uid in large]
        if kind == "user_delete":
            return [self.write(f"users/{uid}", None)]
        if kind == "location":
            return [
                self.write(
                    f"locations/{location}",
                    {
                        "address": f"{rng.randrange(1, 99)} Main St",
                        "latitude": round(rng.uniform(-90, 90), 4),
                        "longitude": round(rng.uniform(-180, 180), 4),
                    },
                )
            ]
        if kind == "location_delete":
            return [self.write(f"locations/{location}", None)]
        if kind == "invalid":
            return self._invalid()
        if kind == "crowd":
            return self._crowd()
        if kind == "crowd_user":
            crowd = [c for c in self._ids("c", self.config.crowd) if f"users/{c}" in self.docs]
            if crowd:
                member = rng.choice(crowd)
                return [self.write(f"users/{member}", self._user(member))]
            return []
        if kind == "attendance_request":
            target_uid, meeting_id = self._attendance_target()
            return [self._attendance_request(target_uid, meeting_id, self._attendance_value())]
        if kind == "burst":
            return self._burst()
        if kind == "withdraw":
            self._withdraw()
            return []
        if kind == "meeting" or not meetings:
            meeting_id = self._meeting_id()
            participants = rng.sample(self._ids("u", self.config.users), rng.randrange(0, 6))
            return self._new_meeting(meeting_id, participants)
        meeting_id = rng.choice(meetings)
        path = f"meetings/{meeting_id}"
        if kind == "status_request":
            return [self._status_request(meeting_id)]
        if kind == "bad_id":
            return self._bad_id(meeting_id)
        meeting = dict(self.base(path) or {})
        if kind == "meeting_update":
            field_name = rng.choice(["title", "status", "locationId"])
            meeting[field_name] = {
                "title": f"Meeting {rng.randrange(1000)}",
                "status": self._status(),
                "locationId": location,
            }[field_name]
            return [self.write(path, meeting)]
        if kind == "meeting_delete":
            return [self.write(path, None)]
        if kind == "add":
            if uid not in meeting["participantIds"]:
                meeting["participantIds"] = [*meeting["participantIds"], uid]
            self.counts.largest_meeting = max(
                self.counts.largest_meeting, len(meeting["participantIds"])
            )
            return [self.write(path, meeting), self.write(f"{path}/tickets/{uid}", self._ticket())]
        if kind == "remove":
            if not meeting["participantIds"]:
                return []
            gone = rng.choice(meeting["participantIds"])
            meeting["participantIds"] = [p for p in meeting["participantIds"] if p != gone]
            return [self.write(path, meeting), self.write(f"{path}/tickets/{gone}", None)]
        tickets = sorted(p for p in self.docs if p.startswith(f"{path}/tickets/"))
        if not tickets:
            return []
        ticket_path = rng.choice(tickets)
        ticket = dict(self.base(ticket_path) or self._ticket())
        ticket["attendance"] = not ticket["attendance"]
        return [self.write(ticket_path, ticket)]

    def _attendance_value(self) -> object:
        # Now and then a command that fails its own model: rejected as invalid.
        return "yes" if self.rng.random() < 0.05 else self.rng.random() < 0.5

    # -- the end: every domain document valid again --------------------------------------------
    def finale(self) -> list[Write]:
        """Invalid documents written last, racing the deliveries still in flight and the heal."""
        writes = []
        for kind in FINALE:
            meetings = self._existing("meetings/")
            if kind == "invalid":
                writes += self._invalid()
            elif meetings:
                writes += self._bad_id(self.rng.choice(meetings))
        return writes

    def heal(self) -> list[Write]:
        """Rewrite every still-invalid domain document (read from Firestore) valid, or delete it."""
        writes = []
        for path, data in self._domain_documents():
            if self.problem(path, data) is None:
                continue
            valid = self.heal_to.get(path)
            if valid is not None and self.problem(path, valid) is not None:
                valid = None  # never "heal" to another invalid version
            fixed = self.counts.fixed
            writes.append(self.write(path, valid))
            self.counts.healed, self.counts.fixed = self.counts.healed + 1, fixed
        return writes

    def _domain_documents(self) -> list[tuple[str, dict[str, Any]]]:
        found: dict[str, dict[str, Any]] = {}
        for model in self.domain:
            template = model.path_template()
            if len(template.segments) == 2:
                snapshots = self.client.collection(template.segments[0]).stream()
            else:
                snapshots = self.client.collection_group(template.segments[-2]).stream()
            for snap in snapshots:
                if template.match(snap.reference.path) is not None:
                    found[snap.reference.path] = snap.to_dict() or {}
        return sorted(found.items())

    def problem(self, path: str, data: dict[str, Any]) -> str | None:
        """Why the document at ``path`` is invalid (its model, or an id it names), or None."""
        for model in self.domain:
            if model.path_template().match(path) is None:
                continue
            try:
                model.from_firestore(path, data)
            except InvalidDocument as error:
                return str(error)
        for name in ID_FIELDS:
            value = data.get(name)
            for item in value if isinstance(value, list) else [value] if value else []:
                if (reason := id_problem(item)) is not None:
                    return f"{path}: {name}: {reason}"
        return None

    def effect(self, command: CommandDoc, seed: int) -> Write | None:
        """The view event Firestore would emit for the document an applied command changed."""
        segments = command.target.split("/")
        if len(segments) % 2 or any(id_problem(part) for part in segments[1::2]):
            return None  # a command naming a bad id is never applied
        snapshot = self.client.document(command.target).get()
        after = snapshot.to_dict() if snapshot.exists else None
        # Ids from a hash, not the rng: effects are made in worker threads, in no fixed order.
        digest = hashlib.blake2b(f"{seed}:effect:{command.path}".encode(), digest_size=16)
        return Write(command.target, None, after, digest.hexdigest())
