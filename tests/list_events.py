"""Events for the agendas and location boards, as the platform would deliver them, for the
property tests (tests/test_lists_properties.py).

A write to a domain document is one event per function listening to its path: a
``Delivery`` (function, path, event id) in a pool. The pool is drained in any order, any
delivery may be repeated (same event id: a duplicate), and several may run at once on
threads. A MeetingCard function that changes a card document raises that card's own event
(``meetingCards/{id}`` for the Agenda and LocationBoard functions), which goes to the same
pool: so a card event can arrive after the events of newer writes, like any other.

A card event is raised only when the card actually changed (its update time or existence
differs from the last one an event was raised for), never for a card nobody wrote: an
event on an unchanged document would be an extra rebuild from current state that could
repair what the real events left wrong. (Two writes of one card racing on threads may get
one event, for the later version: that event reads the card as it is, like both would.)

A delivery that ends ``pending`` (handed off: an injected fault, retries exhausted) goes back
to the pool as a redrive, what the task queue would run (``boiler.runtime.redrive``).

The MeetingSession functions are left out: they keep a separate view no list reads.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from boiler import compile_app
from boiler.runtime import bookkeeping
from boiler.runtime.options import Options
from boiler.runtime.pipeline import Outcome
from boiler.runtime.redrive import redrive
from boiler.runtime.tally_pipeline import pipeline_for
from google.cloud import firestore
from meeting_room import app

BUILD = compile_app(app)
LIST_VIEWS = ("MeetingCard", "Agenda", "LocationBoard")
TRIGGERS = tuple(t for t in BUILD.triggers if t.view.__name__ in LIST_VIEWS)
MAX_REDRIVE_FAILURES = 10  # of one event's redrive before the harness calls it a crash loop
T0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
Fields = dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """One delivery of one event to one function; ``redrive``: the durable path's retry of
    an event whose delivery ended ``pending`` (what the task queue would run)."""

    function: str
    path: str
    event_id: str
    redrive: bool = False

    def __repr__(self) -> str:
        again = " (redrive)" if self.redrive else ""
        return f"{self.function}({self.path})#{self.event_id}{again}"


@dataclass
class Log:
    """What every delivery returned, per (function, event id), in completion order."""

    statuses: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    order: list[tuple[Delivery, str]] = field(default_factory=list)
    held_back: list[tuple[Delivery, str]] = field(default_factory=list)

    def add(self, delivery: Delivery, outcome: Outcome) -> None:
        key = (delivery.function, delivery.event_id)
        self.statuses.setdefault(key, []).append(outcome.status)
        self.order.append((delivery, outcome.status))
        self.held_back += [(delivery, str(problem)) for problem in outcome.invalid]

    def pending(self) -> int:
        return sum(status == "pending" for _, status in self.order)


class ListEvents:
    """The pool of undelivered events for one database, and the ways to deliver them."""

    def __init__(self, db: firestore.Client, options: Options | None = None) -> None:
        self.db = db
        self.options = options or Options()
        self.pipelines = {
            t.name: pipeline_for(t, client=db, options=self.options) for t in TRIGGERS
        }
        self.pool: list[Delivery] = []
        self.delivered: list[Delivery] = []  # every delivery made, in order (dups included)
        self.log = Log()
        self._ids = itertools.count(1)
        self.redrive_failures: list[tuple[Delivery, str]] = []
        self._cards: dict[str, Any] = {}  # card path -> version the last card event was for
        self._lock = threading.RLock()

    # -- events ----------------------------------------------------------------------------
    def wrote(self, path: str) -> list[Delivery]:
        """The events of one write of ``path``: one per listening function, one event id."""
        with self._lock:
            event_id = f"e{next(self._ids)}"
            raised = [
                Delivery(t.name, path, event_id)
                for t in TRIGGERS
                if t.source.template.match(path) is not None
            ]
            self.pool += raised
        return raised

    def write(self, path: str, fields: Fields | None) -> None:
        """Write a domain document (``None``: delete it) and raise its events."""
        if fields is None:
            self.db.document(path).delete()
        else:
            self.db.document(path).set(fields)
        self.wrote(path)

    def take(self, index: int) -> Delivery:
        with self._lock:
            return self.pool.pop(index % len(self.pool))

    # -- delivering --------------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> Outcome:
        """Run one delivery now (any thread); raises the card events it caused."""
        trigger = BUILD.trigger(delivery.function)
        pipeline = self.pipelines[delivery.function]
        if delivery.redrive:
            try:
                outcome = redrive(
                    BUILD,
                    delivery.function,
                    delivery.event_id,
                    delivery.path,
                    client=self.db,
                    options=self.options,
                )
            except Exception as error:  # the task fails: the queue retries it, a few times
                with self._lock:
                    self.redrive_failures.append((delivery, repr(error)))
                    failures = [f for d, f in self.redrive_failures if d == delivery]
                    if len(failures) > MAX_REDRIVE_FAILURES:
                        raise AssertionError(
                            f"redriving {delivery} keeps failing (a crash loop): {failures}"
                        ) from error
                    self.pool.append(delivery)
                return Outcome(delivery.function, delivery.event_id, delivery.path, "failed")
        else:
            outcome = pipeline.handle(delivery.event_id, delivery.path)
        with self._lock:
            self.delivered.append(delivery)
            self.log.add(delivery, outcome)
            if outcome.status == "pending":  # handed off: the task queue would run it again
                self.pool.append(
                    Delivery(delivery.function, delivery.path, delivery.event_id, True)
                )
        if trigger.view.__name__ == "MeetingCard":
            self._card_events(delivery.path)
        return outcome

    def _card_events(self, path: str) -> None:
        """An event for every card that changed since the last card event was raised."""
        parts = path.split("/")
        if parts[0] == "meetings":
            cards = [f"meetingCards/{parts[1]}"]
        else:  # a location: any card may join it
            with self._lock:
                known = set(self._cards)
            cards = sorted(
                known | {s.reference.path for s in self.db.collection("meetingCards").stream()}
            )
        snapshots = self.db.get_all([self.db.document(card) for card in cards])
        for snapshot in snapshots:
            version = snapshot.update_time if snapshot.exists else None
            card = snapshot.reference.path
            with self._lock:
                if self._cards.get(card) == version:
                    continue
                self._cards[card] = version
            self.wrote(card)

    def drain(self, rng: random.Random, duplicates: float = 0.0) -> None:
        """Deliver everything in the pool, and what that raises, one at a time in random
        order; each delivery is repeated later (same event id) with probability
        ``duplicates``."""
        repeated: set[Delivery] = set()
        while self.pool:
            delivery = self.take(rng.randrange(len(self.pool)))
            self.deliver(delivery)
            if delivery not in repeated and not delivery.redrive and rng.random() < duplicates:
                repeated.add(delivery)
                with self._lock:
                    self.pool.append(delivery)

    def drain_concurrently(
        self, executor: ThreadPoolExecutor, rng: random.Random, duplicates: float = 0.0
    ) -> None:
        """Like ``drain``, with everything in the pool running at once on ``executor``'s
        threads (a duplicate races its original); until nothing is left nor running."""
        running: set[Future[Outcome]] = set()
        repeated: set[Delivery] = set()
        while True:
            with self._lock:
                batch, self.pool = self.pool, []
            rng.shuffle(batch)
            for delivery in batch:
                running.add(executor.submit(self.deliver, delivery))
                if delivery not in repeated and not delivery.redrive and rng.random() < duplicates:
                    repeated.add(delivery)
                    running.add(executor.submit(self.deliver, delivery))
            if not running:
                with self._lock:
                    if not self.pool:
                        return
                continue
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a bug in the harness itself surfaces here

    def race(
        self, executor: ThreadPoolExecutor, picks: Iterable[int], writes: Iterable[Any]
    ) -> None:
        """Deliver the picked events on threads while ``writes`` (callables) run here."""
        futures = []
        for pick in picks:
            if not self.pool:
                break
            futures.append(executor.submit(self.deliver, self.take(pick)))
        for do_write in writes:
            do_write()
        for future in futures:
            future.result()

    # -- checks ----------------------------------------------------------------------------
    def exactly_once(self) -> list[str]:
        """Events not applied exactly once: at most one delivery commits an event's change
        (``applied``); the others find it committed (``duplicate``) or already shown
        (``unchanged``: covered by another commit, or nothing to write). An event none
        applied was shown already, or handed off (``pending``: its redrive applies it)."""
        wrong = []
        for (function, event_id), statuses in self.log.statuses.items():
            applied = statuses.count("applied")
            settled = {"pending", "unchanged"} & set(statuses)
            if applied > 1 or (applied == 0 and not settled):
                wrong.append(f"{function}#{event_id}: {statuses}")
        return wrong


class InjectedFault(Exception):
    """Raised by ``Faults`` inside a delivery: the event is handed off (``pending``)."""


class Faults:
    """A fault hook (``Options(faults=...)``): each injection step of each delivery raises
    ``InjectedFault`` with probability ``rate`` (seeded; thread timing still varies)."""

    STEPS = ("before_read", "after_read", "commit", "after_commit")

    def __init__(self, seed: int, rate: float) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.injected: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, step: str, progress: Any) -> None:
        if step not in self.STEPS:
            return
        with self._lock:
            hit = self.rng.random() < self.rate
            if hit:
                self.injected.append(f"{step}: {progress.function}#{progress.event_id}")
        if hit:
            raise InjectedFault(f"injected at {step}")


def bookkeeping_left(db: firestore.Client, collection: str) -> list[Fields]:
    """The documents of one bookkeeping collection (``_boilerPending``, ``_boilerErrors``)."""
    return [{"id": s.id, **(s.to_dict() or {})} for s in db.collection(collection).stream()]


def pending_left(db: firestore.Client) -> list[Fields]:
    return bookkeeping_left(db, bookkeeping.PENDING)


def errors_left(db: firestore.Client) -> list[Fields]:
    return bookkeeping_left(db, bookkeeping.ERRORS)


# -- the oracle over a database with some documents as they were -----------------------------
@dataclass
class _Snapshot:
    """Enough of a DocumentSnapshot for ``expected_lists``."""

    id: str
    fields: Fields

    def to_dict(self) -> Fields:
        return dict(self.fields)


class _Collection:
    def __init__(self, real: Any, overrides: Mapping[str, Fields | None]) -> None:
        self.real = real
        self.path = real._path
        self.overrides = {
            path.rsplit("/", 1)[1]: fields
            for path, fields in overrides.items()
            if tuple(path.split("/")[:-1]) == tuple(self.path)
        }

    def stream(self) -> Iterator[Any]:
        for snapshot in self.real.stream():
            if snapshot.id not in self.overrides:
                yield snapshot
        for doc_id, fields in sorted(self.overrides.items()):
            if fields is not None:
                yield _Snapshot(doc_id, fields)


class Overlaid:
    """A read-only stand-in for a client: the stored documents, except ``overrides`` (path ->
    fields as they were, ``None``: as if absent). The oracle run over it gives the views
    boiler must show while the overridden documents' aggregates are held back."""

    def __init__(self, db: firestore.Client, overrides: Mapping[str, Fields | None]) -> None:
        self.db = db
        self.overrides = dict(overrides)

    def collection(self, path: str) -> _Collection:
        return _Collection(self.db.collection(path), self.overrides)
