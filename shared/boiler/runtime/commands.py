"""Running one command: validate, apply in a transaction, mark processed, exactly once.

>>> CommandRunner(AttendanceRequest).handle(event_id, "users/u1/attendanceRequests/r1")
CommandOutcome(status='applied', reason=None, ...)

The command document itself is the idempotency record: the transaction reads it and only
proceeds while it has no ``status``; the same commit writes the domain changes and the status.
So a duplicate or concurrent delivery finds it processed (or aborts and retries, then finds
it processed), and a rejected command writes nothing but its own status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.cloud import firestore

from ..commands import APPLIED, PROCESSED_AT, REASON, REJECTED, RESERVED_FIELDS, STATUS, Command
from ..documents import DomainModel
from ..errors import CommandRejected, InvalidDocument, RetriesExhausted
from . import log, store
from .client import firestore_client
from .retry import run_transaction

M = TypeVar("M", bound=DomainModel)


class CommandContext:
    """What ``Command.apply`` sees: typed transactional reads, buffered writes, caller and params.

    >>> meeting = ctx.get(Meeting, "m1")                     # Meeting | None
    >>> ctx.update(Ticket, "m1", ctx.uid, attendance=True)   # ids in path-template order
    """

    def __init__(
        self,
        client: firestore.Client,
        transaction: firestore.Transaction,
        path: str,
        params: dict[str, str],
        uid: str | None,
    ) -> None:
        self.path = path
        self.params = params
        self.uid = uid
        self._client = client
        self._transaction = transaction
        self._raw: dict[str, dict[str, Any] | None] = {}  # read-your-writes cache
        self._writes: list[Callable[[firestore.Transaction], None]] = []

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
            snapshot = self._client.document(path).get(transaction=self._transaction)
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
        data = document.to_firestore()
        self._raw[path] = data
        self._writes.append(lambda tx: tx.set(self._client.document(path), data))

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
        merged = model.from_firestore(
            path, {**current, **{aliases[n]: v for n, v in changes.items()}}
        )
        stored = merged.to_firestore()
        fields = {aliases[name]: stored[aliases[name]] for name in changes}
        self._raw[path] = {**current, **fields}
        self._writes.append(lambda tx: tx.update(self._client.document(path), fields))

    def delete(self, model: type[DomainModel], *ids: str | None) -> None:
        """Delete a document (no error if it does not exist)."""
        path = self._path(model, ids)
        self._raw[path] = None
        self._writes.append(lambda tx: tx.delete(self._client.document(path)))

    def stage(self) -> int:
        """Add the buffered writes to the transaction (only once apply has succeeded)."""
        for write in self._writes:
            write(self._transaction)
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
            (status, reason, writes), outcome.attempts = run_transaction(
                self.client,
                lambda tx: self._process(tx, document, params),
                self.name,
                self.max_retries,
            )
        except RetriesExhausted as error:
            self._hand_off(outcome, error)
            raise
        # A bug in apply(): tell the client instead of leaving it waiting forever.
        except Exception as error:
            log.error("boiler.command_failed", error=repr(error), **outcome.log_fields())
            self._record_error(outcome, error)
            message = f"internal error ({type(error).__name__}); the command was not applied"
            (status, reason, writes), _ = run_transaction(
                self.client,
                lambda tx: self._mark_only(tx, document, message),
                self.name,
                self.max_retries,
            )
        outcome.status, outcome.reason, outcome.writes = status, reason, writes
        log.info(f"boiler.command_{status}", **outcome.log_fields())
        return outcome

    def _process(
        self, transaction: firestore.Transaction, document: str, params: dict[str, str]
    ) -> tuple[str, str | None, int]:
        ref = self.client.document(document)
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return "missing", None, 0
        data = snapshot.to_dict() or {}
        if data.get(STATUS) is not None:
            return "duplicate", data.get(REASON), 0
        payload = {name: value for name, value in data.items() if name not in RESERVED_FIELDS}
        try:
            command = self.command.from_firestore(document, payload)
        except InvalidDocument as error:
            return (
                self._mark(transaction, ref, REJECTED, _invalid_reason(error)),
                _invalid_reason(error),
                0,
            )
        uid = self.spec.caller_uid(params, payload)
        context = CommandContext(self.client, transaction, document, params, uid)
        try:
            command.apply(context)
        except CommandRejected as rejection:
            return self._mark(transaction, ref, REJECTED, rejection.reason), rejection.reason, 0
        writes = context.stage()
        return self._mark(transaction, ref, APPLIED, None), None, writes

    def _mark_only(
        self, transaction: firestore.Transaction, document: str, reason: str
    ) -> tuple[str, str | None, int]:
        ref = self.client.document(document)
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return "missing", None, 0
        data = snapshot.to_dict() or {}
        if data.get(STATUS) is not None:
            return "duplicate", data.get(REASON), 0
        return self._mark(transaction, ref, REJECTED, reason), reason, 0

    @staticmethod
    def _mark(
        transaction: firestore.Transaction,
        ref: firestore.DocumentReference,
        status: str,
        reason: str | None,
    ) -> str:
        transaction.update(
            ref, {STATUS: status, REASON: reason, PROCESSED_AT: firestore.SERVER_TIMESTAMP}
        )
        return status

    def _hand_off(self, outcome: CommandOutcome, error: RetriesExhausted) -> None:
        """Contention won: leave a pending entry so the durable path can process the command later."""
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
