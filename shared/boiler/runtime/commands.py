"""Running one command: validate, apply atomically, mark processed, exactly once.

>>> CommandRunner(AttendanceRequest).handle(event_id, "users/u1/attendanceRequests/r1")
CommandOutcome(status='applied', reason=None, ...)

The command document itself is the idempotency record: an attempt reads it (and what
``apply`` reads) at one snapshot, then commits the domain writes and the status in one
atomic batch guarded by the versions read (the command must still be unprocessed). A
duplicate or concurrent delivery loses that race, rereads, and finds it processed; a
rejected command writes nothing but its own status. No read locks (see runtime/attempt.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from google.cloud import firestore

from ..commands import APPLIED, PROCESSED_AT, REASON, REJECTED, RESERVED_FIELDS, STATUS, Command
from ..documents import DomainModel
from ..errors import CommandRejected, InvalidDocument, RetriesExhausted
from . import log, store
from .attempt import Attempt
from .client import firestore_client
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
    ) -> None:
        self.path = path
        self.params = params
        self.uid = uid
        self._attempt = attempt
        self._seen: dict[str, firestore.DocumentSnapshot] = {}  # as read: the write preconditions
        self._raw: dict[str, dict[str, Any] | None] = {}  # read-your-writes view
        self._writes: dict[str, dict[str, Any] | None] = {}  # path -> new fields, or None: delete

    def _path(self, model: type[DomainModel], ids: tuple[str | None, ...]) -> str:
        template = model.path_template()
        if len(ids) != len(template.wildcards):
            raise TypeError(
                f"{model.__name__} needs ids {list(template.wildcards)}, got {list(ids)}"
            )
        try:
            return template.format(**dict(zip(template.wildcards, ids, strict=True)))  # type: ignore[arg-type]
        except ValueError as error:
            raise CommandRejected(
                f"invalid document id for {model.__name__}: {list(ids)}"
            ) from error

    def _read(self, path: str) -> dict[str, Any] | None:
        if path not in self._raw:
            (snapshot,) = self._attempt.get_all([self._attempt.client.document(path)])
            self._seen[path] = snapshot
            self._raw[path] = snapshot.to_dict() if snapshot.exists else None
        return self._raw[path]

    def get(self, model: type[M], *ids: str | None) -> M | None:
        """The document as a validated model, or None when it does not exist."""
        path = self._path(model, ids)
        raw = self._read(path)
        return None if raw is None else model.from_firestore(path, raw)

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
        aliases = {name: info.alias or name for name, info in model.model_fields.items()}
        unknown = sorted(set(changes) - set(aliases))
        if unknown:
            raise TypeError(f"{model.__name__} has no fields {unknown}")
        changed = {aliases[name]: value for name, value in changes.items()}
        stored = model.from_firestore(path, {**current, **changed}).to_firestore()
        self._raw[path] = self._writes[path] = {**current, **{k: stored[k] for k in changed}}

    def delete(self, model: type[DomainModel], *ids: str | None) -> None:
        """Delete a document (no error if it does not exist)."""
        path = self._path(model, ids)
        self._read(path)
        self._raw[path] = self._writes[path] = None

    def stage(self) -> int:
        """Add the writes to the attempt's commit, each guarded by the version read."""
        for path, data in self._writes.items():
            ref, seen = self._attempt.client.document(path), self._seen[path]
            if data is None:
                if seen.exists:
                    self._attempt.guarded_delete(ref, seen)
            elif seen.exists:
                removed = {
                    name: firestore.DELETE_FIELD
                    for name in (seen.to_dict() or {})
                    if name not in data
                }
                self._attempt.guarded_update(ref, seen, {**data, **removed})
            else:
                self._attempt.guarded_update(
                    ref, None, data
                )  # create: fails if it appeared meanwhile
        return len(self._writes)


@dataclass
class CommandOutcome:
    """What one delivery of a command event did; logged and returned."""

    function: str
    event_id: str
    document: str
    status: str = "pending"  # applied | rejected | duplicate | missing | pending
    reason: str | None = None
    writes: int = 0
    attempts: int = 0

    def log_fields(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "eventId": self.event_id,
            "document": self.document,
            "status": self.status,
            "reason": self.reason,
            "writes": self.writes,
            "attempts": self.attempts,
        }


def _invalid_reason(error: InvalidDocument) -> str:
    return "invalid command: " + "; ".join(f"{name}: {message}" for name, message in error.problems)


class CommandRunner:
    """Processes one command type's events; safe under duplicate and concurrent deliveries."""

    def __init__(
        self,
        command: type[Command],
        name: str | None = None,
        client: firestore.Client | None = None,
        max_retries: int | None = None,
    ) -> None:
        self.command = command
        self.spec = command.spec()
        self.name = name or self.spec.name
        self._client = client
        self.max_retries = max_retries

    @property
    def client(self) -> firestore.Client:
        return self._client or firestore_client()

    def handle(self, event_id: str, document: str) -> CommandOutcome:
        """Validate and apply the command stored at ``document`` unless it is already processed."""
        outcome = CommandOutcome(self.name, event_id, document)
        params = self.spec.template.match(document)
        if params is None:
            raise ValueError(f"{self.name}: {document} does not match {self.spec.template}")
        try:
            (status, reason, writes), outcome.attempts = retrying(
                lambda number: self._attempt(number, document, params), self.name, self.max_retries
            )
        except RetriesExhausted as error:
            self._hand_off(outcome, error)
            raise
        # A bug in apply(): tell the client instead of leaving it waiting forever.
        except Exception as error:
            log.error("boiler.command_failed", error=repr(error), **outcome.log_fields())
            self._record_error(outcome, error)
            message = f"internal error ({type(error).__name__}); the command was not applied"
            (status, reason, writes), _ = retrying(
                lambda number: self._attempt(number, document, params, failure=message),
                self.name,
                self.max_retries,
            )
        outcome.status, outcome.reason, outcome.writes = status, reason, writes
        log.info(f"boiler.command_{status}", **outcome.log_fields())
        return outcome

    def _attempt(
        self, number: int, document: str, params: dict[str, str], failure: str | None = None
    ) -> tuple[str, str | None, int]:
        """One optimistic try: read, apply, commit domain writes and the status atomically."""
        attempt = Attempt(self.client, number)
        ref = self.client.document(document)
        (snapshot,) = attempt.get_all([ref])
        if not snapshot.exists:
            return "missing", None, 0
        data = snapshot.to_dict() or {}
        if data.get(STATUS) is not None:
            return "duplicate", data.get(REASON), 0
        status, reason, writes = REJECTED, failure, 0
        if failure is None:
            status, reason, writes = self._apply(attempt, document, params, data)
        # The precondition that makes it exactly once: the command is still as read, unprocessed.
        attempt.guarded_update(
            ref,
            snapshot,
            {STATUS: status, REASON: reason, PROCESSED_AT: firestore.SERVER_TIMESTAMP},
        )
        attempt.commit()
        return status, reason, writes

    def _apply(
        self, attempt: Attempt, document: str, params: dict[str, str], data: dict[str, Any]
    ) -> tuple[str, str | None, int]:
        payload = {name: value for name, value in data.items() if name not in RESERVED_FIELDS}
        try:
            command = self.command.from_firestore(document, payload)
        except InvalidDocument as error:
            return REJECTED, _invalid_reason(error), 0
        context = CommandContext(attempt, document, params, self.spec.caller_uid(params, payload))
        try:
            command.apply(context)
        except CommandRejected as rejection:
            return REJECTED, rejection.reason, 0
        return APPLIED, None, context.stage()

    def _hand_off(self, outcome: CommandOutcome, error: RetriesExhausted) -> None:
        """Contention won: leave a pending entry for the durable path to process it later."""
        outcome.status = "pending"
        log.error("boiler.retries_exhausted", error=repr(error.__cause__), **outcome.log_fields())
        self.client.collection(store.PENDING).document(
            store.safe_id(self.name, outcome.event_id)
        ).set(
            {
                "kind": "command",
                "function": self.name,
                "document": outcome.document,
                "eventId": outcome.event_id,
                "at": firestore.SERVER_TIMESTAMP,
            }
        )

    def _record_error(self, outcome: CommandOutcome, error: Exception) -> None:
        self.client.collection(store.ERRORS).document(
            store.safe_id(self.name, outcome.event_id)
        ).set(
            {
                "function": self.name,
                "eventId": outcome.event_id,
                "eventDocument": outcome.document,
                "error": repr(error),
                "at": firestore.SERVER_TIMESTAMP,
            }
        )
