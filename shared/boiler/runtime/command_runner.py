"""Running one command: validate, apply atomically, mark processed, exactly once.

>>> CommandRunner(AttendanceRequest).handle(event_id, "users/u1/attendanceRequests/r1")
CommandOutcome(status='applied', reason=None, ...)

The command document itself is the idempotency record: an attempt reads it (and what
``apply`` reads) at one snapshot, then commits the domain writes and the status in one
atomic batch guarded by the versions read: the command must still be unprocessed, and every
document ``apply`` read, written or not, must be unchanged (``Attempt.verify``), so the
effect is serialisable with every other write. A duplicate or concurrent delivery loses that
race, rereads, and finds it processed; a rejected or superseded command writes nothing but
its own status. No read locks (see runtime/attempt.py).

Never lost: like a view trigger's event, a command's event writes ahead a pending entry
(removed by the commit that writes its status) and hands any failure that is not a final
outcome to the durable path (runtime/durable.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..commands import (
    APPLIED,
    PROCESSED_AT,
    REASON,
    REJECTED,
    RESERVED_FIELDS,
    STATUS,
    SUPERSEDED,
    SUPERSEDED_BY,
    Command,
)
from ..documents import DomainModel
from ..errors import CommandMisuse, CommandRejected, InvalidDocument
from ..naming import to_camel
from . import bookkeeping, durable, log
from .attempt import Attempt
from .client import firestore_client
from .command_order import CommandOrder
from .options import Options
from .retry import retrying

M = TypeVar("M", bound=DomainModel)


class CommandContext:
    """What ``Command.apply`` sees: typed snapshot reads, buffered writes, caller and params.

    >>> meeting = ctx.get(Meeting, "m1")                     # Meeting | None
    >>> ctx.update(Ticket, "m1", ctx.uid, attendance=True)   # ids in path-template order

    Every write is guarded by the version read in this attempt, so a concurrent change to a
    document this command writes makes the commit fail and the command rerun on fresh data.
    """

    def __init__(
        self,
        attempt: Attempt,
        path: str,
        params: dict[str, str],
        uid: str | None,
        prefetch: firestore.DocumentReference | None = None,
    ) -> None:
        self.path = path
        self.params = params
        self.uid = uid
        self._attempt = attempt
        self._seen: dict[str, firestore.DocumentSnapshot] = {}  # as read: the write preconditions
        self._raw: dict[str, dict[str, Any] | None] = {}  # read-your-writes view
        self._writes: dict[str, dict[str, Any] | None] = {}  # path -> new fields, or None: delete
        self.verified = 0  # documents read, not written, whose version guards the commit
        # Boiler's own read (the order bookkeeping) rides along with apply's first read.
        self._prefetch = prefetch
        self._prefetched: firestore.DocumentSnapshot | None = None

    def prefetched(self) -> firestore.DocumentSnapshot:
        """The ``prefetch`` document as of this attempt's snapshot (read now if apply read none)."""
        if self._prefetched is None and self._prefetch is not None:
            (self._prefetched,) = self._attempt.get_all([self._prefetch])
        if self._prefetched is None:
            raise ValueError("CommandContext has nothing to prefetch")
        return self._prefetched

    def _path(self, model: type[DomainModel], ids: tuple[str | None, ...]) -> str:
        template = model.path_template()
        if len(ids) != len(template.wildcards):
            raise CommandMisuse(
                f"{model.__name__} needs ids {list(template.wildcards)}, got {list(ids)}",
                code="apply-wrong-ids",
            )
        try:
            return template.format(**dict(zip(template.wildcards, ids, strict=True)))  # type: ignore[arg-type]
        except ValueError as error:
            raise CommandRejected(
                f"invalid document id for {model.__name__}: {list(ids)}"
            ) from error

    def _read(self, path: str) -> dict[str, Any] | None:
        if path not in self._raw:
            refs = [self._attempt.client.document(path)]
            if self._prefetch is not None and self._prefetched is None:
                refs.append(self._prefetch)
            snapshot, *extra = self._attempt.get_all(refs)
            if extra:
                self._prefetched = extra[0]
            self._seen[path] = snapshot
            self._raw[path] = snapshot.to_dict() if snapshot.exists else None
        return self._raw[path]

    def get(self, model: type[M], *ids: str | None) -> M | None:
        """The document as a validated model, or None when it does not exist.

        A stored document that fails its model rejects the command, naming it: data to fix,
        not a bug in ``apply`` (the rejection is guarded like any read: fixed meanwhile, the
        command runs again).
        """
        path = self._path(model, ids)
        raw = self._read(path)
        return None if raw is None else _stored(model, path, raw)

    def set(self, document: DomainModel, *ids: str | None) -> None:
        """Create or replace a document."""
        path = self._path(type(document), ids)
        self._read(path)  # its version guards the write
        self._raw[path] = self._writes[path] = document.to_firestore()

    def update(self, model: type[DomainModel], *ids: str | None, **changes: Any) -> None:
        """Change some fields (Python names) of an existing document; the result must validate."""
        path = self._path(model, ids)
        current = self._read(path)
        if current is None:
            raise CommandRejected(f"{path} does not exist")
        _stored(model, path, current)
        aliases = {name: info.alias or name for name, info in model.model_fields.items()}
        unknown = sorted(set(changes) - set(aliases))
        if unknown:
            raise CommandMisuse(
                f"{model.__name__} has no fields {unknown}; choose from {sorted(aliases)}",
                code="apply-unknown-field",
            )
        changed = {aliases[name]: value for name, value in changes.items()}
        try:
            stored = model.from_firestore(path, {**current, **changed}).to_firestore()
        except InvalidDocument as error:  # the stored part validated: apply's values did not
            raise CommandMisuse(
                f"ctx.update({model.__name__}, ...) would store an invalid document: {error}",
                code="apply-invalid-value",
            ) from None
        self._raw[path] = self._writes[path] = {**current, **{k: stored[k] for k in changed}}

    def delete(self, model: type[DomainModel], *ids: str | None) -> None:
        """Delete a document (no error if it does not exist)."""
        path = self._path(model, ids)
        self._read(path)
        self._raw[path] = self._writes[path] = None

    def stage(self, writes: bool = True) -> int:
        """Add this context's part of the commit; returns how many documents it writes.

        Each write (unless ``writes`` is false: a rejection) is guarded by the version read;
        every document only read is verified unchanged, so the effect is serialisable.
        """
        staged = 0
        for path, seen in self._seen.items():
            ref = self._attempt.client.document(path)
            data = self._writes.get(path, _READ_ONLY) if writes else _READ_ONLY
            if data is _READ_ONLY or (data is None and not seen.exists):
                self._attempt.verify(ref, seen)
                self.verified += 1
            elif data is None:
                self._attempt.guarded_delete(ref, seen)
                staged += 1
            elif seen.exists:
                removed = {
                    name: firestore.DELETE_FIELD
                    for name in (seen.to_dict() or {})
                    if name not in data
                }
                self._attempt.guarded_update(ref, seen, {**data, **removed})
                staged += 1
            else:
                self._attempt.guarded_update(ref, None, data)  # create: fails if it appeared
                staged += 1
        return staged


_READ_ONLY: Any = object()  # stage(): a document apply read and did not write


@dataclass
class CommandOutcome:
    """What one delivery of a command event did; logged and returned.

    ``status``: applied | rejected | superseded (final, written on the command), duplicate
    (processed before), missing (the document is gone), pending (handed to the durable path).
    """

    function: str
    event_id: str
    document: str
    status: str = "pending"
    reason: str | None = None
    superseded_by: str | None = None
    writes: int = 0  # domain documents written
    verified: int = 0  # documents only read, guarding the commit (one no-op write each)
    attempts: int = 0
    retries: int = 0

    def log_fields(self) -> dict[str, Any]:
        """Every field, camelCase like the rest of what boiler writes."""
        return {to_camel(f.name): getattr(self, f.name) for f in fields(self)}


@dataclass
class _Result:
    status: str
    reason: str | None = None
    superseded_by: str | None = None
    writes: int = 0
    verified: int = 0

    def command_fields(self) -> dict[str, Any]:
        """What boiler writes on the command document."""
        written = {
            STATUS: self.status,
            REASON: self.reason,
            PROCESSED_AT: firestore.SERVER_TIMESTAMP,
        }
        if self.superseded_by is not None:
            written[SUPERSEDED_BY] = self.superseded_by
        return written


class _ApplyFailed(Exception):
    """``apply`` raised something other than ``CommandRejected`` (e.g. ``CommandMisuse``): a
    bug in user code."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        super().__init__(repr(error))


def _stored(model: type[M], path: str, raw: dict[str, Any]) -> M:
    try:
        return model.from_firestore(path, raw)
    except InvalidDocument as error:
        raise CommandRejected(f"cannot apply: the stored document {error}") from None


def _invalid_reason(error: InvalidDocument) -> str:
    return "invalid command: " + "; ".join(f"{name}: {message}" for name, message in error.problems)


class CommandRunner:
    """Processes one command type's events; safe under duplicate and concurrent deliveries.

    Fault-injection steps (``hook(step, outcome)``): ``command_before_read`` (each attempt),
    ``command_commit`` (writes staged, not sent), ``command_after_commit`` (``outcome``
    carries the final status); the hook is ``Options.faults``, the same one views use.
    """

    def __init__(
        self,
        command: type[Command],
        name: str | None = None,
        client: firestore.Client | None = None,
        options: Options | None = None,
    ) -> None:
        self.command = command
        self.spec = command.spec()
        self.name = name or self.spec.name
        self.order = CommandOrder.of(command)
        self._client = client
        self.options = options or Options()
        self.max_retries = self.options.max_retries

    def _fault(self, step: str, outcome: CommandOutcome) -> None:
        if self.options.faults is not None:
            self.options.faults(step, outcome)

    @property
    def client(self) -> firestore.Client:
        return self._client or firestore_client()

    def handle(self, event_id: str, document: str) -> CommandOutcome:
        """Validate and apply the command stored at ``document`` unless it is already processed.

        Never loses it: anything short of a final outcome (contention won, Firestore
        unavailable) leaves the pending entry with the error and enqueues the redrive task.
        """
        outcome = CommandOutcome(self.name, event_id, document)
        entry = durable.WRITE_AHEAD if self.options.write_ahead else durable.NO_ENTRY
        return durable.finish_or_hand_off(
            self.client, outcome, bookkeeping.COMMAND, lambda work: self.run(work, entry)
        )

    def run(
        self, outcome: CommandOutcome, pending_entry: str = durable.HANDED_OFF
    ) -> CommandOutcome:
        """``handle`` without the hand-off: raises if no final status could be committed.

        ``pending_entry`` as for ``TriggerPipeline.run``: written ahead here, there already
        (removed by the status commit), or none.
        """
        params = self.spec.template.match(outcome.document)
        if params is None:
            raise ValueError(f"{self.name}: {outcome.document} does not match {self.spec.template}")
        ref = bookkeeping.pending_ref(self.client, self.name, outcome.event_id)
        pending = None if pending_entry == durable.NO_ENTRY else ref
        ahead = (
            durable.write_ahead(ref, outcome, bookkeeping.COMMAND)
            if pending_entry == durable.WRITE_AHEAD
            else None
        )
        try:
            result = self._retrying(outcome, pending, ahead, self._deciding(outcome, params))
        except _ApplyFailed as failed:
            # A bug in apply(): tell the client instead of leaving it waiting forever.
            log.error("boiler.command_failed", error=repr(failed.error), **outcome.log_fields())
            self._record_error(outcome, failed.error)
            message = f"internal error ({type(failed.error).__name__}); the command was not applied"
            result = self._retrying(outcome, pending, ahead, lambda *_: _Result(REJECTED, message))
        if result.status in ("duplicate", "missing") and pending is not None:
            if ahead is not None:  # no commit removed the entry: do it here
                ahead.result()
            pending.delete()
        outcome.status, outcome.reason = result.status, result.reason
        log.info(f"boiler.command_{outcome.status}", **outcome.log_fields())
        return outcome

    def _retrying(
        self,
        outcome: CommandOutcome,
        pending: firestore.DocumentReference | None,
        ahead: Future[None] | None,
        decide: Callable[[Attempt, firestore.DocumentSnapshot, dict[str, Any]], _Result],
    ) -> _Result:
        """Optimistic tries: read the command, decide, commit its status with the effects."""

        def once(number: int) -> _Result:
            outcome.attempts += 1
            outcome.retries = number - 1
            attempt = Attempt(self.client, number)
            self._fault("command_before_read", outcome)
            ref = self.client.document(outcome.document)
            (snapshot,) = attempt.get_all([ref])
            if not snapshot.exists:
                return _Result("missing")
            data = snapshot.to_dict() or {}
            if data.get(STATUS) is not None:
                return _Result("duplicate", data.get(REASON))
            result = decide(attempt, snapshot, data)
            # What makes it exactly once: the command is still as read, unprocessed.
            attempt.guarded_update(ref, snapshot, result.command_fields())
            if ahead is not None:
                ahead.result()  # the write-ahead entry has landed: this commit removes it
            if pending is not None:
                attempt.delete(pending)
            self._fault("command_commit", outcome)
            attempt.commit()
            outcome.status, outcome.reason = result.status, result.reason
            outcome.superseded_by = result.superseded_by
            outcome.writes, outcome.verified = result.writes, result.verified
            self._fault("command_after_commit", outcome)
            return result

        return retrying(once, f"{self.name}: event {outcome.event_id}", self.max_retries)[0]

    def _deciding(
        self, outcome: CommandOutcome, params: dict[str, str]
    ) -> Callable[[Attempt, firestore.DocumentSnapshot, dict[str, Any]], _Result]:
        def decide(
            attempt: Attempt, snapshot: firestore.DocumentSnapshot, data: dict[str, Any]
        ) -> _Result:
            return self._decide(attempt, outcome.document, params, snapshot, data)

        return decide

    def _decide(
        self,
        attempt: Attempt,
        document: str,
        params: dict[str, str],
        snapshot: firestore.DocumentSnapshot,
        data: dict[str, Any],
    ) -> _Result:
        """Validate, check the order, apply; stage the effects and the guards of every read."""
        payload = {name: value for name, value in data.items() if name not in RESERVED_FIELDS}
        try:
            command = self.command.from_firestore(document, payload)
        except InvalidDocument as error:
            return _Result(REJECTED, _invalid_reason(error))
        order_ref = None if self.order is None else self.order.ref(self.client, params, command)
        caller = self.spec.caller_uid(params, payload)
        context = CommandContext(attempt, document, params, caller, prefetch=order_ref)
        reason: str | None = None
        try:
            command.apply(context)
            status = APPLIED
        except CommandRejected as rejection:
            status, reason = REJECTED, rejection.reason
        except (gexc.GoogleAPICallError, gexc.RetryError):
            raise  # Firestore's, not apply's: retried, or handed to the durable path
        except Exception as error:
            raise _ApplyFailed(error) from error
        if self.order is not None and order_ref is not None:
            # Checked after apply (whose writes are then dropped): one round trip fewer.
            order_seen = context.prefetched()
            newer = self.order.newer_than(order_seen, snapshot)
            if newer is not None:
                attempt.verify(order_ref, order_seen)
                target = self.order.target(params, command)
                why = f"superseded by {newer}, created later for the same " + ", ".join(
                    f"{name}={value}" for name, value in target.items()
                )
                return _Result(SUPERSEDED, why, superseded_by=newer, verified=1)
        result = _Result(status, reason, writes=context.stage(writes=status == APPLIED))
        result.verified = context.verified
        if self.order is not None and order_ref is not None:
            if status == APPLIED:
                entry = self.order.entry(params, command, snapshot)
                attempt.guarded_update(order_ref, context.prefetched(), entry)
            else:
                # Only applied commands advance the order: a rejected newer command changed
                # nothing, so an older valid one delivered after it must still apply.
                attempt.verify(order_ref, context.prefetched())
                result.verified += 1
        return result

    def _record_error(self, outcome: CommandOutcome, error: Exception) -> None:
        ref = bookkeeping.error_ref(
            self.client, bookkeeping.command_error_id(self.name, outcome.event_id)
        )
        ref.set(
            bookkeeping.command_error_entry(self.name, outcome.event_id, outcome.document, error)
        )


def without_status(
    client: firestore.Client, command: type[Command]
) -> Iterator[firestore.DocumentSnapshot]:
    """``command`` documents boiler has not processed (no ``status``).

    A scan of the command's collection group (Firestore cannot query for a missing field),
    reading only ``status``: what ``python -m boiler pending`` runs after the pending entries.
    """
    template = command.spec().template
    query = client.collection_group(template.segments[-2]).select([STATUS])
    for snapshot in query.stream():
        path = snapshot.reference.path
        if template.match(path) is not None and (snapshot.to_dict() or {}).get(STATUS) is None:
            yield snapshot
