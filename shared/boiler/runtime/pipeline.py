"""The pipeline of one trigger (docs/durability.md, "Per event").

Ledger, optimistic commit with preconditions, retries, durable hand-off.

>>> Pipeline(build.trigger("meeting_session_on_ticket")).handle(event_id, "meetings/m1/tickets/u1")
Outcome(status='applied', aggregates=1, views_written=3, ...)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..compiler import TriggerSpec
from ..errors import BoilerError, BuildFailed, RetriesExhausted
from ..naming import to_camel
from ..sources import SourceSpec
from . import bookkeeping, chunks, durable, log, retry
from .aggregate import AggregateBuilder, AggregateState, WritePlan
from .attempt import Attempt
from .client import firestore_client
from .options import Options


@dataclass
class Outcome:
    """What one delivery of an event did; logged and returned."""

    function: str
    event_id: str
    document: str
    # applied (this delivery committed the change) | unchanged (the views already showed it:
    # nothing written) | duplicate (another delivery of the event committed it) | pending
    status: str = "applied"
    aggregates: int = 0
    views_written: int = 0
    views_deleted: int = 0
    attempts: int = 0
    retries: int = 0
    commits: int = 0
    # Lost a race to a commit that already held this event's change: nothing left to write.
    covered: bool = False
    # Aggregates held back: an invalid source (InvalidDocument) or BuildFailed.
    invalid: list[BoilerError] = field(default_factory=list)

    def log_fields(self) -> dict[str, Any]:
        """Every field, camelCase like the rest of what boiler writes."""
        logged = {to_camel(f.name): getattr(self, f.name) for f in fields(self)}
        logged["invalid"] = [str(error) for error in self.invalid]
        return logged


@dataclass
class _Event:
    """One delivery's bookkeeping: its ledger entry or mark, and its pending entry."""

    ledger: firestore.DocumentReference
    pending: firestore.DocumentReference
    mark: str  # what marks it applied in the records of the commit that completes it
    pending_entry: str = durable.NO_ENTRY
    write_ahead: Future[None] | None = None
    # Spread over several commits: the ledger entry (read with the first snapshot, written
    # with the last commit) marks it, not the records.
    multi: bool = False
    ledger_read: bool = False  # the first snapshot read includes the ledger entry
    committed: bool = False  # this delivery has committed (a mark found now is its own)
    # The key group and its states as the last attempt read them: a retry after a lost race
    # reads their siblings again (AggregateBuilder.siblings). One group's only: memory stays
    # bounded however far the event fans out.
    last_read: tuple[list[str], list[AggregateState]] | None = None

    def siblings(self, builder: AggregateBuilder, keys: list[str], document: str) -> list[str]:
        if self.last_read is None or self.last_read[0] != keys:
            return []
        return builder.siblings(self.last_read[1], document)

    def written_ahead(self) -> None:
        """Wait until the write-ahead entry is stored (before removing it)."""
        if self.write_ahead is not None:
            self.write_ahead.result()


# Events for one aggregate handled by the same instance (functions run many events at once)
# take turns instead of racing: each then finds the previous commit and builds on it, and
# optimistic retries are left for races between instances. Striped: bounded memory.
_STRIPES = [threading.Lock() for _ in range(256)]


@contextmanager
def _one_at_a_time(view: str, keys: list[str], serialize: bool) -> Iterator[None]:
    if len(keys) != 1 or not serialize:  # fan-out groups: rarely contended
        yield
        return
    with _STRIPES[hash((view, keys[0])) % len(_STRIPES)]:
        yield


class _Duplicate(Exception):
    """The ledger entry exists: another delivery of this event committed first."""


class _GroupTooLarge(Exception):
    """The group's writes would exceed the write budget of one commit: split it."""


@dataclass
class _GroupResult:
    aggregates: int = 0
    written: int = 0
    deleted: int = 0
    invalid: list[BoilerError] = field(default_factory=list)
    completed: bool = False  # this commit completes the event (its records carry its mark)
    # A single aggregate too large for one commit: the operations left for follow-up commits.
    plan: WritePlan | None = None
    rest: list[str] = field(default_factory=list)
    # Documents no earlier commit guarded, with the version read: re-read after the commit
    # (see _run_group). {path: update time, None if missing}
    recheck: dict[str, Any] = field(default_factory=dict)


class TriggerPipeline:
    """What every view trigger's pipeline shares: its trigger, client and options, the fault
    hook, and ``handle`` (``run`` with the durable hand-off). Subclasses define ``run``."""

    def __init__(
        self,
        trigger: TriggerSpec,
        client: firestore.Client | None = None,
        options: Options | None = None,
    ) -> None:
        self.trigger = trigger
        self._client = client
        self.options = options or Options()

    def _fault(self, step: str, outcome: Outcome) -> None:
        if self.options.faults is not None:
            self.options.faults(step, outcome)

    @property
    def client(self) -> firestore.Client:
        return self._client or firestore_client()

    def handle(self, event_id: str, document: str) -> Outcome:
        """Apply the change to ``document`` announced by event ``event_id`` to every affected view.

        Never loses the work: if it cannot finish, the event goes to ``_boilerPending`` and the
        task queue (``durable.finish_or_hand_off``). An invocation that dies is delivered
        again by the platform (``Options.platform_retries``), or, without platform retries,
        leaves the entry it wrote ahead of its first commit.
        """
        outcome = Outcome(self.trigger.name, event_id, document)
        entry = durable.WRITE_AHEAD if self.options.write_ahead else durable.NO_ENTRY
        return durable.finish_or_hand_off(
            self.client, outcome, bookkeeping.VIEW, lambda work: self.run(work, entry)
        )

    def run(self, outcome: Outcome, pending_entry: str = durable.HANDED_OFF) -> Outcome:
        """``handle`` without the hand-off: raises if the event could not be applied.

        ``pending_entry``: whether the event's pending entry is written ahead here
        (``WRITE_AHEAD``), exists already (``HANDED_OFF``: a redrive) or is never written
        (``NO_ENTRY``); the first two are removed once the event is done.
        """
        raise NotImplementedError

    def _event(self, outcome: Outcome, pending_entry: str) -> _Event:
        """The event's bookkeeping; a write-ahead entry is sent in the background."""
        function, event_id = self.trigger.name, outcome.event_id
        event = _Event(
            ledger=bookkeeping.ledger_ref(self.client, function, event_id),
            pending=bookkeeping.pending_ref(self.client, function, event_id),
            mark=bookkeeping.event_mark(function, event_id),
            pending_entry=pending_entry,
        )
        if pending_entry == durable.WRITE_AHEAD:
            event.write_ahead = durable.write_ahead(event.pending, outcome, bookkeeping.VIEW)
        return event

    def _finish(self, outcome: Outcome, event: _Event) -> Outcome:
        """Done (its mark or ledger entry says so): a pending entry, once stored, can go. Its
        write travelled beside the event's reads and commits, off the path to a fresh view; an
        entry left by a death right here is harmless (a redrive finds the event applied)."""
        if outcome.status == "applied" and not outcome.commits:
            outcome.status = "unchanged"
        if event.pending_entry != durable.NO_ENTRY:
            event.written_ahead()
            event.pending.delete()
        for problem in outcome.invalid:  # recorded in _boilerErrors
            log.error("boiler.held_back", problem=str(problem), **outcome.log_fields())
        log.info(f"boiler.{outcome.status}", **outcome.log_fields())
        return outcome


class Pipeline(TriggerPipeline):
    """Runs one record view trigger's events; safe to call concurrently and repeatedly with
    the same event.

    >>> Pipeline(trigger, options=Options(group_size=10)).handle(event_id, "users/u1")
    """

    @property
    def max_retries(self) -> int:
        return self.options.max_retries

    @property
    def group_size(self) -> int:
        return self.options.group_size

    def run(self, outcome: Outcome, pending_entry: str = durable.HANDED_OFF) -> Outcome:
        """``handle`` without the hand-off: raises if the event could not be applied."""
        event = self._event(outcome, pending_entry)
        origin = bookkeeping.origin_of(self.trigger.name, outcome.event_id, outcome.document)
        builder = AggregateBuilder(self.trigger.view, self.client, origin)
        try:
            completed = False
            for keys, last in self._key_groups(builder, outcome.document):
                event.multi = event.multi or not last
                result = self._run_group(builder, keys, outcome, event, final=not event.multi)
                if result.plan is not None and result.rest:
                    self._write_rest(builder, result, outcome, event)
                completed = result.completed
            if not completed:  # several commits: the ledger entry says the last one is done
                self._fault("before_ledger", outcome)
                event.ledger.create(self._ledger_entry(outcome.document, outcome.invalid))
                outcome.commits += 1
        except (_Duplicate, gexc.AlreadyExists):
            outcome.status = "duplicate"  # applied before, or by a racing delivery first
        return self._finish(outcome, event)

    # -- which aggregates an event touches ------------------------------------------------
    def _key_groups(
        self, builder: AggregateBuilder, document: str
    ) -> Iterator[tuple[list[str], bool]]:
        source = self.trigger.source
        assert isinstance(source, SourceSpec), "aggregate views run in TallyPipeline"
        values = source.template.match(document)
        if values is None:
            raise ValueError(f"{self.trigger.name}: {document} does not match {source.template}")
        # The source's kind decides: the key from the path, or the records' dependencies
        # (builder.dependents). Keys come a page at a time, rebuilt group_size at a time.
        for page_keys, more_pages in source.affected(document, values, builder):
            for start in range(0, max(len(page_keys), 1), self.group_size):
                keys = page_keys[start : start + self.group_size]
                yield keys, not more_pages and start + self.group_size >= len(page_keys)

    # -- one optimistic attempt, retried ---------------------------------------------------
    def _retrying(self, outcome: Outcome, event: _Event, body: Callable[[Attempt], Any]) -> Any:
        def once(number: int) -> Any:
            outcome.attempts += 1
            outcome.retries += number > 1
            unit = Attempt(self.client, number)
            result = body(unit)
            unit.commit()  # AlreadyExists: a record created meanwhile, a lost race (retried)
            event.committed = event.committed or bool(unit.writes)
            outcome.commits += 1 if unit.writes else 0
            self._fault("after_commit", outcome)
            return result

        name = f"{self.trigger.name}: event {outcome.event_id}"
        return retry.retrying(once, name, self.max_retries)[0]

    def _run_group(
        self,
        builder: AggregateBuilder,
        keys: list[str],
        outcome: Outcome,
        event: _Event,
        final: bool,
        depth: int = 0,
        held_back: BuildFailed | None = None,
    ) -> _GroupResult:
        """One commit for ``keys`` (retried); split when too large for one commit.

        ``held_back`` (set after Firestore refused this aggregate's commit) records the
        problem and writes no view.
        """
        try:
            with _one_at_a_time(builder.spec.name, keys, self.options.serialize_local_events):
                result: _GroupResult = self._retrying(
                    outcome,
                    event,
                    lambda attempt: self._apply(
                        attempt, builder, keys, outcome, event, final, depth > 0, held_back
                    ),
                )
        except gexc.InvalidArgument as error:
            # Firestore refused the commit itself (a document it will not store): find the
            # aggregate at fault by halving; that one records the refusal, the others go on.
            if held_back is not None:
                raise  # even the record alone was refused: leave it to the durable path
            if len(keys) == 1:
                refusal = BuildFailed(builder.spec.name, keys[0], f"Firestore refused: {error}")
                return self._run_group(builder, keys, outcome, event, final, depth, refusal)
            return self._split_group(builder, keys, outcome, event)
        except _GroupTooLarge:
            return self._split_group(builder, keys, outcome, event)
        outcome.aggregates += result.aggregates
        outcome.views_written += result.written
        outcome.views_deleted += result.deleted
        outcome.invalid.extend(result.invalid)
        if result.recheck and self._changed_since_read(result.recheck):
            # A document this commit newly relied on changed after it was read, and that
            # change's event may have run before this commit existed (it found no record, or
            # no record listing the document), finding nothing to do: go again.
            if depth >= self.max_retries:
                raise RetriesExhausted(f"{self.trigger.name}: dependencies of {keys} keep changing")
            outcome.retries += 1
            self._run_group(builder, keys, outcome, event, final=False, depth=depth + 1)
        return result

    def _split_group(
        self, builder: AggregateBuilder, keys: list[str], outcome: Outcome, event: _Event
    ) -> _GroupResult:
        """Two commits of half the keys each; the ledger entry then gets its own commit."""
        half = len(keys) // 2
        first = self._run_group(builder, keys[:half], outcome, event, final=False)
        if first.plan is not None and first.rest:
            self._write_rest(builder, first, outcome, event)
        return self._run_group(builder, keys[half:], outcome, event, final=False)

    def _changed_since_read(self, seen: dict[str, Any]) -> bool:
        refs = [self.client.document(path) for path in seen]
        return any(
            (snap.update_time if snap.exists else None) != seen[snap.reference.path]
            for snap in self.client.get_all(refs)
        )

    def _apply(
        self,
        attempt: Attempt,
        builder: AggregateBuilder,
        keys: list[str],
        outcome: Outcome,
        event: _Event,
        final: bool,
        reread: bool = False,
        held_back: BuildFailed | None = None,
    ) -> _GroupResult:
        self._fault("before_read", outcome)
        # One snapshot for every read: the changed document is read as it is now, so a stale
        # event cannot roll a view back; the records' versions guard the commit.
        check_ledger = event.multi and not event.ledger_read
        lost_race = attempt.number > 1 and not reread
        states = builder.load(
            attempt,
            keys,
            refresh=outcome.document,
            full=reread,
            also=[event.ledger] if check_ledger else [],
            siblings=event.siblings(builder, keys, outcome.document) if lost_race else [],
        )
        event.last_read = (keys, states)
        if check_ledger:  # the ledger entry came with the first snapshot: no extra round trip
            if attempt.update_times.get(event.ledger.path) is not None:
                raise _Duplicate()
            event.ledger_read = True
        elif not (event.multi or event.committed) and any(
            event.mark in state.record.applied for state in states
        ):
            raise _Duplicate()  # another delivery of this event committed it
        settled = not reread and held_back is None and states
        if settled and all(builder.covers(state, outcome.document) for state in states):
            # The records hold this event's document as it is now (a commit that won a race
            # read it): their views show the change, nothing is left to do. (Else a retry read
            # the document's siblings again with the record, so its commit covers the events
            # it raced with, and they stop here.)
            outcome.covered = True
            return _GroupResult(aggregates=len(states), completed=final)
        self._fault("after_read", outcome)
        result = _GroupResult()
        plans: list[WritePlan] = []
        for state in states:
            # An aggregate that cannot be built still gets its record refreshed (so fixing
            # the source at fault finds it) and leaves its views as they were.
            if held_back is not None:
                plans.append(builder.held_back(state, held_back))
            else:
                plans.append(builder.rebuild(state))
            known = set(state.record.deps)
            for path in set(builder.dependencies(state)) - known:
                result.recheck[path] = attempt.update_times.get(path)
            if state.snapshot is None:  # no record guarded the root yet (e.g. deleted meanwhile)
                root = builder.root_path(state.key)
                result.recheck[root] = attempt.update_times.get(root)
        budget = (2 if final else 0) + sum(plan.writes() for plan in plans)
        size = sum(sum(plan.sizes.values()) for plan in plans)
        if chunks.over_budget(budget, size) and len(keys) > 1:
            raise _GroupTooLarge()
        for plan in plans:
            if chunks.over_budget(budget, sum(plan.sizes.values())):
                # One aggregate larger than a commit: the record and a first chunk now, the
                # rest in follow-up commits that stop if a newer rebuild replaces the record.
                chunk, rest = chunks.first_chunk(plan)
                written, deleted = builder.write(attempt, plan, chunk, rest)
                result.plan, result.rest = plan, rest
            else:
                mark = event.mark if final and not result.rest else None
                written, deleted = builder.write(attempt, plan, mark=mark)
            result.written, result.deleted = result.written + written, result.deleted + deleted
            if plan.problem is not None:
                result.invalid.append(plan.problem)
        result.aggregates = len(plans)
        result.completed = final and not result.rest
        self._fault("commit", outcome)
        return result

    def _write_rest(
        self, builder: AggregateBuilder, result: _GroupResult, outcome: Outcome, event: _Event
    ) -> None:
        """Follow-up commits of one oversized aggregate; each rechecks the record version."""
        plan, left = result.plan, len(result.rest)
        assert plan is not None
        for done in chunks.write_rest(
            builder,
            plan,
            result.rest,
            commit=lambda body: self._retrying(outcome, event, body),
            before=lambda: self._fault("before_read", outcome),
            staged=lambda: self._fault("commit", outcome),
        ):
            if done is None:
                log.info("boiler.superseded", key=plan.state.key, left=left, **outcome.log_fields())
                return
            outcome.views_written += done[0]
            outcome.views_deleted += done[1]
            left -= done[0] + done[1]

    def _ledger_entry(self, document: str, invalid: list[BoilerError]) -> dict[str, Any]:
        return bookkeeping.ledger_entry(self.trigger.name, document, invalid=bool(invalid))
