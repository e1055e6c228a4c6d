"""Property tests: agendas and location boards equal a recomputation from the domain documents
after any sequence of domain writes, whatever the delivery of their events (DESIGN.md,
"Meeting room, second part": "also under duplicated, reordered and concurrent deliveries").

Hypothesis draws programs of domain writes (users, locations, meetings, tickets: every kind
of change the data contract names) interleaved with deliveries of their events, picked from
a pool in any order (events of older writes after newer ones, card events late), repeated
with the same event id, or run on threads racing each other and the writes. At every quiet
point (nothing left to deliver) the stored lists equal ``expected_lists`` (tests/
meeting_lists.py, written from the data contract alone), there is no view the domain does
not call for, no event was applied twice, nothing is left pending and no error recorded.

Besides: boards with more not-started meetings than ``next`` shows (it must refill), users
and locations deleted and created again, deliveries failing at a step and redriven (the
durable path), and invalid documents held back without a crash loop. The bugs these found
keep their minimal reproductions (a Top refill racing a change below the top; the error of
an invalid root never withdrawn).

The examples are derandomized (the same ones on every run, CI included) and kept few, since
each delivery is a round trip to the real emulator (40-60 s for the file). Under CI
(``CI`` set) a failure is reported unshrunk, with the writes and deliveries that led to it;
a local run shrinks it (minutes). ``BOILER_LIST_EXAMPLES=N`` multiplies the counts and draws
fresh examples (a soak run):

    BOILER_LIST_EXAMPLES=20 PYTHONPATH=shared .venv/bin/python -m pytest \\
        tests/test_lists_properties.py -q -p no:cacheprovider
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from boiler.runtime.options import Options
from boiler.testing.oracle import expected_views, first_divergence, stored_views
from google.cloud import firestore
from hypothesis import (
    HealthCheck,
    Phase,
    currently_in_test_context,
    event,
    given,
    note,
    settings,
)
from hypothesis import strategies as st
from meeting_room import MeetingCard
from meeting_room.views import BOARD_NEXT

from .list_events import (
    T0,
    Faults,
    Fields,
    ListEvents,
    Overlaid,
    errors_left,
    pending_left,
)
from .meeting_lists import expected_lists, stored_lists

SOAK = int(os.environ.get("BOILER_LIST_EXAMPLES", "0"))
# Shrinking a failure replays programs against the emulator for up to 5 minutes per test: CI
# reports the failing example as drawn (with its writes and deliveries), a local run shrinks.
SHRINK = not os.environ.get("CI")


def examples(count: int) -> settings:
    """Derandomized ``count`` examples; a soak run (BOILER_LIST_EXAMPLES) draws more, fresh."""
    return settings(
        max_examples=count * SOAK if SOAK else count,
        derandomize=not SOAK,
        database=None,
        deadline=None,
        print_blob=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,  # ``fresh`` empties the database per example
        ],
    )


# -- the domain: a mirror of what the test wrote, and the operations on it -------------------
USERS = ("u1", "u2", "u3", "u4")
LOCATIONS = ("l1", "l2", "l3")
MEETINGS = ("m1", "m2", "m3", "m4", "m5", "m6")
ADDRESSES = ("1 Main St", "2 Side St", "3 Park Ave")
TITLES = ("Standup", "Review", "Retro")
STATUSES = ("not-started", "in-session", "closed")
World = dict[str, Fields]  # path -> fields, as stored
Change = tuple[str, Fields | None]  # a write: path, fields (None: delete)
KINDS = {  # what an op may pick among the existing documents
    "users": lambda path: path.startswith("users/"),
    "locations": lambda path: path.startswith("locations/"),
    "meetings": lambda path: path.startswith("meetings/") and path.count("/") == 1,
    "tickets": lambda path: "/tickets/" in path,
}


def existing(world: World, kind: str, pick: int) -> str | None:
    """The ``pick``-th (modulo) existing document of a kind, by path; None if there is none."""
    paths = sorted(path for path in world if KINDS[kind](path))
    return paths[pick % len(paths)] if paths else None


def starts(hour: int | None) -> dt.datetime | None:
    return None if hour is None else T0 + dt.timedelta(hours=hour)


@dataclass(frozen=True)
class Put:
    """Create or replace a document."""

    path: str
    fields: tuple[tuple[str, Any], ...]

    def resolve(self, world: World) -> Change | None:
        return self.path, dict(self.fields)

    def __repr__(self) -> str:
        return f"Put({self.path!r}, {dict(self.fields)!r})"


@dataclass(frozen=True)
class Delete:
    """Delete an existing document of ``kind`` (users, locations, meetings, tickets)."""

    kind: str
    pick: int

    def resolve(self, world: World) -> Change | None:
        path = existing(world, self.kind, self.pick)
        return None if path is None else (path, None)


@dataclass(frozen=True)
class Edit:
    """Change one thing about an existing meeting: retitle, reschedule or unschedule
    (``startsAt`` None), status, move (``locationId``), add or remove a participant."""

    pick: int
    change: str  # title | startsAt | status | locationId | add | remove
    value: Any

    def resolve(self, world: World) -> Change | None:
        path = existing(world, "meetings", self.pick)
        if path is None:
            return None
        fields = dict(world[path])
        people = list(fields.get("participantIds", []))
        if self.change == "add":
            fields["participantIds"] = [*people, self.value]
        elif self.change == "remove":
            fields["participantIds"] = [uid for uid in people if uid != self.value]
        elif self.change == "startsAt" and self.value is None:
            fields.pop("startsAt", None)
        elif self.change == "startsAt":
            fields["startsAt"] = starts(self.value)
        else:
            fields[self.change] = self.value
        return path, fields


@dataclass(frozen=True)
class Ticket:
    """Set ``uid``'s ticket to an existing meeting (``attendance`` None: the field absent)."""

    pick: int
    uid: str
    attendance: bool | None

    def resolve(self, world: World) -> Change | None:
        meeting = existing(world, "meetings", self.pick)
        if meeting is None:
            return None
        fields: Fields = {"role": "participant"}
        if self.attendance is not None:
            fields["attendance"] = self.attendance
        return f"{meeting}/tickets/{self.uid}", fields


Op = Put | Delete | Edit | Ticket


def applies(op: Op, world: World) -> Change | None:
    """The write ``op`` makes now (recorded in ``world``), or None: nothing to do."""
    write = op.resolve(world)
    if write is not None:
        path, fields = write
        if fields is None:
            world.pop(path, None)
        else:
            world[path] = fields
    return write


def user_fields(org: str) -> tuple[tuple[str, Any], ...]:
    return (("firstName", "Ann"), ("lastName", "Lee"), ("organization", org))


def location_fields(address: str) -> tuple[tuple[str, Any], ...]:
    return (("address", address), ("latitude", 52.5), ("longitude", 13.4))


def meeting_fields(
    title: str, location: str, people: list[str] | None, status: str | None, hour: int | None
) -> tuple[tuple[str, Any], ...]:
    fields: list[tuple[str, Any]] = [("title", title), ("locationId", location)]
    if people is not None:
        fields.append(("participantIds", people))
    if status is not None:
        fields.append(("status", status))
    if hour is not None:
        fields.append(("startsAt", starts(hour)))
    return tuple(fields)


def user(uid: str, org: str) -> Put:
    return Put(f"users/{uid}", user_fields(org))


def location(lid: str, address: str) -> Put:
    return Put(f"locations/{lid}", location_fields(address))


def meeting(
    mid: str, title: str, lid: str, people: list[str] | None, status: str | None, hour: int | None
) -> Put:
    return Put(f"meetings/{mid}", meeting_fields(title, lid, people, status, hour))


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn ``weight`` times as often as a weight of 1."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


picks = st.integers(0, 10_000)
hours = st.one_of(st.integers(0, 4), st.none())  # few values: ties are ordered by meeting id
# Mostly one to four participants (repeats allowed); now and then none, or the field absent.
people = weighted(
    (4, st.lists(st.sampled_from(USERS), min_size=1, max_size=4)), (1, st.just([])), (1, st.none())
)
statuses = st.one_of(st.sampled_from(STATUSES), st.none())  # none: the default, not-started


def put_user(uids: tuple[str, ...] = USERS) -> st.SearchStrategy[Op]:
    return st.builds(user, st.sampled_from(uids), st.sampled_from(("Acme", "Initech")))


def put_location(lids: tuple[str, ...] = LOCATIONS) -> st.SearchStrategy[Op]:
    return st.builds(location, st.sampled_from(lids), st.sampled_from(ADDRESSES))


def put_meeting(
    mids: tuple[str, ...] = MEETINGS,
    lids: tuple[str, ...] = LOCATIONS,
    status: st.SearchStrategy[str | None] = statuses,
    who: st.SearchStrategy[list[str] | None] = people,
) -> st.SearchStrategy[Op]:
    return st.builds(
        meeting,
        st.sampled_from(mids),
        st.sampled_from(TITLES),
        st.sampled_from(lids),
        who,
        status,
        hours,
    )


def edit_meeting(lids: tuple[str, ...] = LOCATIONS) -> st.SearchStrategy[Op]:
    return st.one_of(
        st.builds(Edit, picks, st.just("status"), st.sampled_from(STATUSES)),
        st.builds(Edit, picks, st.just("startsAt"), hours),
        st.builds(Edit, picks, st.just("add"), st.sampled_from(USERS)),
        st.builds(Edit, picks, st.just("remove"), st.sampled_from(USERS)),
        st.builds(Edit, picks, st.just("locationId"), st.sampled_from(lids)),
        st.builds(Edit, picks, st.just("title"), st.sampled_from(TITLES)),
    )


tickets = st.builds(Ticket, picks, st.sampled_from(USERS), st.one_of(st.booleans(), st.none()))


def delete(kind: str) -> st.SearchStrategy[Op]:
    return st.builds(Delete, st.just(kind), picks)


# Every kind of change; meeting edits the most frequent. Users and locations come and go
# (a deleted one may come back): what lists a deleted root's meetings must follow it.
any_op: st.SearchStrategy[Op] = weighted(
    (6, edit_meeting()),
    (3, put_meeting()),
    (3, tickets),
    (1, delete("tickets")),
    (2, delete("users")),
    (2, put_user()),
    (2, delete("locations")),
    (2, put_location()),
    (1, delete("meetings")),
)


@st.composite
def initial_worlds(draw: st.DrawFn) -> list[Op]:
    """Some users, locations and meetings, written in any order (their events undelivered)."""
    users = draw(st.lists(put_user(), min_size=1, max_size=4, unique_by=lambda op: op.path))
    places = draw(st.lists(put_location(), min_size=1, max_size=3, unique_by=lambda op: op.path))
    meetings = draw(st.lists(put_meeting(), min_size=2, max_size=6, unique_by=lambda op: op.path))
    return draw(st.permutations([*users, *places, *meetings]))


initial = initial_worlds()


# -- program steps -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Write:
    op: Op


@dataclass(frozen=True)
class Deliver:
    """Deliver the ``pick``-th event of the pool (modulo its size); ``again``: leave it
    there too, to be delivered again later (a duplicate)."""

    pick: int
    again: bool = False


@dataclass(frozen=True)
class Redeliver:
    """Deliver again, arbitrarily late, an event delivered before (same event id)."""

    pick: int


@dataclass(frozen=True)
class Settle:
    """Deliver everything, in the order ``seed`` gives (a quarter of them twice); check."""

    seed: int


@dataclass(frozen=True)
class Race:
    """Deliver the picked events on threads while the writes happen."""

    picks: tuple[int, ...]
    ops: tuple[Op, ...]


Step = Write | Deliver | Redeliver | Settle | Race
seeds = st.integers(0, 2**16)
sequential_steps: st.SearchStrategy[Step] = weighted(
    (6, st.builds(Write, any_op)),
    (3, st.builds(Deliver, picks, st.booleans())),
    (1, st.builds(Redeliver, picks)),
    (1, st.builds(Settle, seeds)),
)
concurrent_steps: st.SearchStrategy[Step] = weighted(
    (3, st.builds(Write, any_op)),
    (
        3,
        st.builds(
            Race,
            st.lists(picks, min_size=2, max_size=6).map(tuple),
            st.lists(any_op, max_size=3).map(tuple),
        ),
    ),
    (1, st.builds(Settle, seeds)),
)


# -- running a program -------------------------------------------------------------------------
@dataclass
class Run:
    db: firestore.Client
    events: ListEvents
    world: World
    executor: ThreadPoolExecutor | None = None
    checks: int = 0
    changes: list[Change] = field(default_factory=list)

    def write(self, op: Op) -> None:
        change = applies(op, self.world)
        if change is not None:
            self.changes.append(change)
            self.events.write(*change)

    def writer(self, op: Op) -> Callable[[], None]:
        return lambda: self.write(op)

    def step(self, step: Step) -> None:
        events = self.events
        if isinstance(step, Write):
            self.write(step.op)
        elif isinstance(step, Deliver) and events.pool:
            delivery = events.take(step.pick)
            events.deliver(delivery)
            if step.again:
                events.pool.append(delivery)
        elif isinstance(step, Redeliver) and events.delivered:
            events.deliver(events.delivered[step.pick % len(events.delivered)])
        elif isinstance(step, Race):
            assert self.executor is not None
            events.race(self.executor, step.picks, [self.writer(op) for op in step.ops])
        elif isinstance(step, Settle):
            self.settle(step.seed)

    def settle(self, seed: int) -> None:
        rng = random.Random(seed)
        if self.executor is None:
            self.events.drain(rng, duplicates=0.25)
        else:
            self.events.drain_concurrently(self.executor, rng, duplicates=0.25)
        check(self.db, self.events, self.changes)
        self.checks += 1


def check(
    db: firestore.Client,
    events: ListEvents,
    changes: list[Change] | None = None,
    errors: bool = True,
) -> None:
    """The lists equal a recomputation, no stray view, every event applied exactly once,
    nothing pending, no error recorded (unless ``errors`` is False)."""
    expected, stored = expected_lists(db), stored_lists(db)
    if stored != expected and currently_in_test_context():
        note(f"writes, in order: {changes}")
        note(f"deliveries, in completion order: {events.log.order}")
    assert stored == expected, first_divergence(expected, stored)
    cards, stored_cards = expected_views(MeetingCard, db), stored_views(MeetingCard, db)
    assert stored_cards == cards, first_divergence(cards, stored_cards)
    assert events.exactly_once() == []
    assert pending_left(db) == []
    if errors:
        assert errors_left(db) == []


@pytest.fixture
def fresh(firestore_emulator: Any) -> Iterator[Callable[[], firestore.Client]]:
    """``fresh()``: empty the emulator (once per hypothesis example) and return a client."""
    client = firestore.Client(project=firestore_emulator.project_id)

    def empty() -> firestore.Client:
        firestore_emulator.reset()
        return client

    yield empty
    client.close()


def run_program(
    db: firestore.Client,
    start: list[Op],
    steps: list[Step],
    seed: int,
    executor: ThreadPoolExecutor | None = None,
    options: Options | None = None,
) -> Run:
    run = Run(db, ListEvents(db, options), {}, executor)
    for op in start:
        run.write(op)
    for step in steps:
        run.step(step)
    run.settle(seed)
    describe(run)
    return run


def describe(run: Run) -> None:
    """What the example exercised (``--hypothesis-show-statistics``)."""
    deliveries = len(run.events.log.order)
    event(f"deliveries: {10 * (deliveries // 10)}+")
    statuses = [status for _, status in run.events.log.order]
    event(f"duplicates delivered: {'yes' if 'duplicate' in statuses else 'no'}")
    if "pending" in statuses:
        event("a delivery was handed off (pending) and redriven")
    deleted = {path.split("/")[0] for path, fields in run.changes if fields is None}
    event(f"deleted: {', '.join(sorted(deleted)) or 'nothing'}")
    waiting: dict[str, int] = {}
    for path, fields in run.world.items():
        if KINDS["meetings"](path) and fields.get("status", "not-started") == "not-started":
            waiting[fields["locationId"]] = waiting.get(fields["locationId"], 0) + 1
    if max(waiting.values(), default=0) > BOARD_NEXT:
        event("a board with more not-started meetings than it lists (at the end)")


# -- the properties ------------------------------------------------------------------------------
@examples(12)
@given(start=initial, steps=st.lists(sequential_steps, min_size=4, max_size=16), seed=seeds)
def test_lists_equal_recomputation_under_reordered_and_duplicated_deliveries(
    fresh: Callable[[], firestore.Client], start: list[Op], steps: list[Step], seed: int
) -> None:
    run_program(fresh(), start, steps, seed)


@examples(10)
@given(
    start=initial,
    steps=st.lists(concurrent_steps, min_size=2, max_size=8),
    seed=seeds,
    fault_rate=st.sampled_from([0.0, 0.05]),
)
def test_lists_equal_recomputation_under_concurrent_deliveries(
    fresh: Callable[[], firestore.Client],
    start: list[Op],
    steps: list[Step],
    seed: int,
    fault_rate: float,
) -> None:
    # The threads stand in for separate function instances: events of one aggregate race.
    # With faults, some deliveries fail at a step and are redriven (the durable path).
    faults = Faults(seed, fault_rate)
    options = Options(serialize_local_events=False, faults=faults)
    with ThreadPoolExecutor(max_workers=6) as executor:
        run_program(fresh(), start, steps, seed, executor, options)
    if faults.injected:
        event("faults injected, their events redriven")


# Users and locations deleted and created again while their meetings change: an agenda or a
# board goes with its root (and never comes back from a member event), and returns, from the
# tallies kept meanwhile, with the root.
churn_ops: st.SearchStrategy[Op] = weighted(  # (hypothesis draws the first ones the most)
    (2, delete("users")),
    (2, delete("locations")),
    (3, edit_meeting(("l1", "l2"))),
    (2, put_user(("u1", "u2"))),
    (2, put_location(("l1", "l2"))),
    (1, tickets),
)
churn_start = st.lists(
    put_meeting(
        lids=("l1", "l2"), who=st.lists(st.sampled_from(("u1", "u2")), min_size=1, max_size=2)
    ),
    min_size=2,
    max_size=4,
    unique_by=lambda op: op.path,
).map(
    lambda meetings: [
        user("u1", "Acme"),
        user("u2", "Acme"),
        location("l1", ADDRESSES[0]),
        location("l2", ADDRESSES[1]),
        *meetings,
    ]
)
churn_steps: st.SearchStrategy[Step] = weighted(
    (4, st.builds(Write, churn_ops)),
    (3, st.builds(Deliver, picks, st.booleans())),
    (1, st.builds(Settle, seeds)),
)


@examples(6)
@given(start=churn_start, steps=st.lists(churn_steps, min_size=4, max_size=14), seed=seeds)
def test_lists_follow_their_roots_deleted_and_created_again(
    fresh: Callable[[], firestore.Client], start: list[Op], steps: list[Step], seed: int
) -> None:
    run_program(fresh(), start, steps, seed)


# More not-started meetings at one location than the board's ``next`` shows: when one of the
# listed leaves (starts, closes, moves, is rescheduled later or deleted), the next must refill.
CROWD = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
crowd_start = st.lists(
    put_meeting(CROWD, ("l1",), st.just("not-started")),
    min_size=BOARD_NEXT + 2,
    max_size=len(CROWD) + 2,
    unique_by=lambda op: op.path,
)
crowd_ops: st.SearchStrategy[Op] = weighted(
    (4, edit_meeting(("l1", "l2"))),
    (1, delete("meetings")),
    (1, put_meeting(CROWD, ("l1", "l2"))),
    (1, tickets),
)


@pytest.mark.parametrize(
    "concurrent",
    [False, True],
    ids=["sequential", "concurrent"],
)
@examples(6)
@given(
    crowd=crowd_start,
    changes=st.lists(crowd_ops, min_size=1, max_size=8),
    orders=st.tuples(seeds, seeds),
)
def test_board_next_refills_past_its_limit(
    fresh: Callable[[], firestore.Client],
    crowd: list[Op],
    changes: list[Op],
    orders: tuple[int, int],
    concurrent: bool,
) -> None:
    db = fresh()
    with ThreadPoolExecutor(max_workers=6) as executor:
        options = Options(serialize_local_events=not concurrent)
        run = Run(db, ListEvents(db, options), {}, executor if concurrent else None)
        for op in [location("l1", ADDRESSES[0]), location("l2", ADDRESSES[1]), *crowd]:
            run.write(op)
        run.settle(orders[0])
        waiting = db.document("locationBoards/l1").get().to_dict() or {}
        assert len(crowd) > BOARD_NEXT and len(waiting["next"]) == BOARD_NEXT
        for op in changes:
            run.write(op)
        run.settle(orders[1])
        describe(run)


def test_a_top_refill_racing_a_change_below_the_top(
    fresh: Callable[[], firestore.Client],
) -> None:
    """Minimal reproduction (found by the concurrent variant above). Four not-started meetings
    at l1: m1, m2, m3 scheduled (the board lists them), m4 not. m4 is scheduled after m3
    (it stays below the top: its membership entry changes, the board's state does not) while
    m1 closes (m1 leaves the top: the board refills from the membership entries). The board
    event of m1 reads first; the board event of m4 runs to its end before m1's commits (the
    fault hook at "commit" stands for the other function instance): the board ends listing
    m4 unscheduled, though every event was delivered once."""
    db = fresh()
    armed: list[str] = []

    def race(step: str, progress: Any) -> None:
        if armed and step == "commit" and progress.document == "meetingCards/m1":
            (board_m4,) = [
                d for d in events.pool if d.path == "meetingCards/m4" and "board" in d.function
            ]
            armed.clear()
            events.pool.remove(board_m4)
            events.deliver(board_m4)

    events = ListEvents(db, Options(serialize_local_events=False, faults=race))
    events.write("locations/l1", dict(location_fields(ADDRESSES[0])))
    for mid, hour in (("m1", 0), ("m2", 1), ("m3", 2), ("m4", None)):
        events.write(f"meetings/{mid}", dict(meeting_fields(mid, "l1", None, None, hour)))
    events.drain(random.Random(0))
    check(db, events)

    events.write("meetings/m4", dict(meeting_fields("m4", "l1", None, None, 3)))
    events.write("meetings/m1", dict(meeting_fields("m1", "l1", None, "closed", 0)))
    for delivery in [d for d in events.pool if d.function.startswith("meeting_card")]:
        events.pool.remove(delivery)
        events.deliver(delivery)  # the cards change: their events join the pool
    armed.append("m1")
    (board_m1,) = [d for d in events.pool if d.path == "meetingCards/m1" and "board" in d.function]
    events.pool.remove(board_m1)
    events.deliver(board_m1)
    assert not armed, "the race did not run"
    events.drain(random.Random(0))
    check(db, events)


# -- an invalid member document: held back, never a crash loop, exact once fixed ----------------
VALID: list[tuple[str, Fields]] = [
    ("users/u1", dict(user_fields("Acme"))),
    ("users/u2", dict(user_fields("Acme"))),
    ("users/u3", dict(user_fields("Initech"))),
    ("locations/l1", dict(location_fields(ADDRESSES[0]))),
    ("locations/l2", dict(location_fields(ADDRESSES[1]))),
    ("meetings/m1", dict(meeting_fields("One", "l1", ["u1", "u2"], "in-session", 2))),
    ("meetings/m2", dict(meeting_fields("Two", "l1", ["u1"], None, 1))),
    ("meetings/m3", dict(meeting_fields("Three", "l2", ["u2", "u3"], None, None))),
    ("meetings/m4", dict(meeting_fields("Four", "l1", ["u3"], "not-started", 0))),
    ("meetings/m5", dict(meeting_fields("Five", "l1", ["u1", "u3"], None, 3))),
    ("meetings/m1/tickets/u1", {"role": "host", "attendance": True}),
    ("meetings/m1/tickets/u2", {"role": "participant", "attendance": False}),
]


@dataclass(frozen=True)
class Invalid:
    """A document made invalid; what changes meanwhile, elsewhere (``elsewhere``) and in
    what the held-back aggregates depend on (``behind``); and the fix."""

    path: str
    fields: Fields
    elsewhere: tuple[tuple[str, Fields | None], ...]
    behind: tuple[tuple[str, Fields | None], ...]
    fix: Fields


INVALID = {
    "meeting-participants-not-a-list": Invalid(
        "meetings/m1",
        {**dict(VALID)["meetings/m1"], "participantIds": "not-a-list", "title": "Renamed"},
        elsewhere=(
            ("meetings/m2", dict(meeting_fields("Two!", "l1", ["u1", "u2"], "in-session", 4))),
            ("meetings/m4", None),
        ),
        behind=(("meetings/m1/tickets/u2", {"role": "participant", "attendance": True}),),
        fix=dict(meeting_fields("One again", "l2", ["u3"], "not-started", 1)),
    ),
    "meeting-status-unknown": Invalid(
        "meetings/m5",
        {**dict(VALID)["meetings/m5"], "status": "cancelled"},
        elsewhere=(("meetings/m3", dict(meeting_fields("Three", "l1", ["u1"], None, 0))),),
        behind=(("meetings/m5/tickets/u1", {"attendance": True}),),
        fix=dict(meeting_fields("Five", "l1", ["u1", "u3"], "in-session", 3)),
    ),
    "ticket-attendance-yes": Invalid(
        "meetings/m1/tickets/u2",
        {"role": "participant", "attendance": "yes"},
        elsewhere=(("meetings/m5", dict(meeting_fields("Five", "l1", ["u1"], "in-session", 3))),),
        behind=(("meetings/m1/tickets/u1", {"role": "host", "attendance": False}),),
        fix={"role": "participant", "attendance": True},
    ),
    "user-without-name": Invalid(
        "users/u1",
        {"lastName": "Lee", "organization": "Acme"},
        elsewhere=(("meetings/m3/tickets/u2", {"attendance": True}),),
        behind=(  # only u1's agenda follows these
            ("meetings/m3", dict(meeting_fields("Three", "l2", ["u2", "u1", "u3"], None, None))),
            ("meetings/m5", dict(meeting_fields("Five", "l1", ["u3"], None, 3))),
        ),
        fix=dict(user_fields("Acme")),
    ),
    "location-latitude-text": Invalid(
        "locations/l2",
        {"address": "2 Side St, moved", "latitude": "north", "longitude": 13.4},
        elsewhere=(("meetings/m2", dict(meeting_fields("Two", "l1", ["u1", "u3"], None, 1))),),
        behind=(("meetings/m5", dict(meeting_fields("Five", "l2", ["u1"], None, 3))),),
        fix=dict(location_fields("2 Side St, fixed")),
    ),
}


@pytest.mark.parametrize("case", list(INVALID.values()), ids=list(INVALID))
def test_invalid_document_is_held_back_without_a_crash_loop_and_exact_once_fixed(
    fresh: Callable[[], firestore.Client], case: Invalid
) -> None:
    """While a document is invalid, boiler holds back what is built from it: the card of an
    invalid meeting (or of a meeting with an invalid ticket or location) and the agenda of an
    invalid user or the board of an invalid location stay as built from its last valid
    version. So the oracle runs over the database with that one document as it was
    (``Overlaid``): the lists must equal it, with the changes made elsewhere meanwhile
    showing. Changes to what the held-back aggregates depend on (the invalid meeting's
    tickets, an invalid user's meetings, ...) move no list until the fix; then everything
    equals the recomputation. No delivery ends pending, however often the invalid
    document's event comes, and the problem is recorded in ``_boilerErrors`` meanwhile."""
    db = fresh()
    events = ListEvents(db, Options(serialize_local_events=False))
    rng = random.Random(7)
    with ThreadPoolExecutor(max_workers=6) as executor:
        for path, fields in VALID:
            events.write(path, fields)
        events.drain(rng, duplicates=0.25)
        check(db, events)
        before = dict(VALID)[case.path]

        # Invalid, while other meetings change: those show, the invalid one stays as it was.
        events.write(case.path, case.fields)
        for path, fields in case.elsewhere:
            events.write(path, fields)
        for _ in range(3):  # its event delivered again and again: never a crash loop
            events.wrote(case.path)
        events.drain_concurrently(executor, rng, duplicates=0.5)
        held = [problem for _, problem in events.log.held_back if case.path in problem]
        assert held, "the invalid document was not reported by any delivery"
        assert events.log.pending() == 0 and pending_left(db) == []
        assert [e["path"] for e in errors_left(db)] and all(
            e.get("path", e.get("sourcePath")) == case.path for e in errors_left(db)
        ), errors_left(db)
        as_it_was = expected_lists(Overlaid(db, {case.path: before}))
        stored = stored_lists(db)
        assert stored == as_it_was, first_divergence(as_it_was, stored)
        assert events.exactly_once() == []

        # What the held-back aggregates depend on changes too: nothing moves yet.
        for path, fields in case.behind:
            events.write(path, fields)
        events.drain_concurrently(executor, rng, duplicates=0.5)
        assert stored_lists(db) == stored
        assert events.log.pending() == 0 and pending_left(db) == []

        # Fixed: every change made meanwhile shows, the errors are withdrawn.
        events.write(case.path, case.fix)
        events.drain_concurrently(executor, rng, duplicates=0.5)
        check(db, events)


@pytest.mark.parametrize(
    ("path", "invalid", "valid"),
    [
        ("users/u1", {"lastName": "Lee", "organization": "Acme"}, dict(user_fields("Acme"))),
        (
            "locations/l1",
            {"address": "1 Main St", "latitude": "north", "longitude": 13.4},
            dict(location_fields("1 Main St")),
        ),
    ],
    ids=["agenda-user", "board-location"],
)
def test_the_error_of_an_invalid_root_is_withdrawn_once_it_is_valid(
    fresh: Callable[[], firestore.Client], path: str, invalid: Fields, valid: Fields
) -> None:
    """Minimal reproduction: the root valid, invalid, valid again; one delivery each."""
    db = fresh()
    events = ListEvents(db)
    for fields in (valid, invalid, valid):
        events.write(path, fields)
        events.drain(random.Random(0))
    assert stored_lists(db) == expected_lists(db)
    assert errors_left(db) == []
