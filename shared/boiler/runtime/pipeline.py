"""The pipeline of one trigger (DESIGN.md): ledger, transaction, precondition, retries, durable hand-off.

>>> Pipeline(build.trigger("meeting_session_on_ticket")).handle(event_id, "meetings/m1/tickets/u1")
Outcome(status='applied', aggregates=1, views_written=3, ...)
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from ..compiler import TriggerSpec
from ..errors import InvalidDocument, RetriesExhausted
from ..sources import ChildrenSpec, RootSpec
from . import log, store
from .aggregate import AggregateBuilder
from .client import firestore_client

MAX_RETRIES = int(os.environ.get("BOILER_MAX_RETRIES", "8"))
# Aggregates rebuilt per transaction when one change fans out; each commit stays well under
# Firestore's 500-write limit (see WRITE_BUDGET).
GROUP_SIZE = int(os.environ.get("BOILER_GROUP_SIZE", "25"))
WRITE_BUDGET = 450

_RETRYABLE = (
    gexc.Aborted,
    gexc.DeadlineExceeded,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.TooManyRequests,
)


@dataclass
class Outcome:
    """What one delivery of an event did; logged and returned."""

    function: str
    event_id: str
    document: str
    status: str = "applied"  # applied | duplicate | pending
    aggregates: int = 0
    views_written: int = 0
    views_deleted: int = 0
    attempts: int = 0
    retries: int = 0
    invalid: list[InvalidDocument] = field(default_factory=list)

    def log_fields(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "eventId": self.event_id,
            "document": self.document,
            "status": self.status,
            "aggregates": self.aggregates,
            "viewsWritten": self.views_written,
            "viewsDeleted": self.views_deleted,
            "attempts": self.attempts,
            "retries": self.retries,
            "invalid": [str(error) for error in self.invalid],
        }


class _Duplicate(Exception):
    """The ledger entry exists: another delivery of this event committed first."""


class _GroupTooLarge(Exception):
    """The group's writes would exceed WRITE_BUDGET in one commit: split it."""


class Pipeline:
    """Runs one trigger's events; safe to call concurrently and repeatedly with the same event."""

    def __init__(
        self,
        trigger: TriggerSpec,
        client: firestore.Client | None = None,
        max_retries: int | None = None,
        group_size: int | None = None,
    ) -> None:
        self.trigger = trigger
        self._client = client
        self.max_retries = max_retries or MAX_RETRIES
        self.group_size = group_size or GROUP_SIZE

    @property
    def client(self) -> firestore.Client:
        return self._client or firestore_client()

    def handle(self, event_id: str, document: str) -> Outcome:
        """Apply the change to ``document`` announced by event ``event_id`` to every affected view."""
        outcome = Outcome(self.trigger.name, event_id, document)
        ledger = store.ledger_ref(self.client, self.trigger.name, event_id)
        if ledger.get().exists:
            outcome.status = "duplicate"
            log.info("boiler.duplicate", **outcome.log_fields())
            return outcome
        builder = AggregateBuilder(self.trigger.view, self.client)
        try:
            for keys, last in self._key_groups(builder, document):
                self._run_group(builder, keys, document, ledger if last else None, outcome)
        except _Duplicate:
            outcome.status = "duplicate"
        except RetriesExhausted as error:
            outcome.status = "pending"
            log.error("boiler.retries_exhausted", error=repr(error.__cause__), **outcome.log_fields())
            raise
        self._record_invalid(outcome)
        log.info(f"boiler.{outcome.status}", **outcome.log_fields())
        return outcome

    # -- which aggregates an event touches ------------------------------------------------
    def _key_groups(self, builder: AggregateBuilder, document: str) -> Iterator[tuple[list[str], bool]]:
        source = self.trigger.source
        values = source.template.match(document)
        if values is None:
            raise ValueError(f"{self.trigger.name}: {document} does not match {source.template}")
        if isinstance(source, RootSpec | ChildrenSpec):
            yield [builder.key_of(values)], True
            return
        # Joined documents: the records list their dependencies; page through them.
        query = (
            store.aggregates_of(self.client, builder.spec.name)
            .where(filter=FieldFilter("deps", "array_contains", document))
            .order_by(FieldPath.document_id())
            .select([])
        )
        cursor = None
        while True:
            page = query.start_after(cursor) if cursor is not None else query
            snapshots = list(page.limit(self.group_size + 1).stream())
            keys = [snap.id for snap in snapshots[: self.group_size]]
            more = len(snapshots) > self.group_size
            yield keys, not more
            if not more:
                return
            cursor = snapshots[self.group_size - 1]

    # -- one transaction, retried ---------------------------------------------------------
    def _run_group(
        self,
        builder: AggregateBuilder,
        keys: list[str],
        document: str,
        ledger: firestore.DocumentReference | None,
        outcome: Outcome,
    ) -> None:
        for attempt in range(1, self.max_retries + 1):
            outcome.attempts += 1
            try:
                transaction = self.client.transaction(max_attempts=1)
                result = firestore.transactional(self._apply)(transaction, builder, keys, document, ledger)
            except _GroupTooLarge:
                half = len(keys) // 2
                self._run_group(builder, keys[:half], document, None, outcome)
                self._run_group(builder, keys[half:], document, ledger, outcome)
                return
            except gexc.AlreadyExists as error:
                raise _Duplicate() from error
            except (ValueError, *_RETRYABLE) as error:
                cause = error.__cause__ if isinstance(error, ValueError) else error
                if not isinstance(cause, _RETRYABLE):
                    raise
                if attempt == self.max_retries:
                    raise RetriesExhausted(
                        f"{self.trigger.name}: event {outcome.event_id} not committed after {attempt} attempts"
                    ) from cause
                outcome.retries += 1
                log.debug("boiler.retry", attempt=attempt, error=type(cause).__name__, function=self.trigger.name)
                time.sleep(_backoff(attempt))
                continue
            aggregates, written, deleted, invalid = result
            outcome.aggregates += aggregates
            outcome.views_written += written
            outcome.views_deleted += deleted
            outcome.invalid.extend(invalid)
            return

    def _apply(
        self,
        transaction: firestore.Transaction,
        builder: AggregateBuilder,
        keys: list[str],
        document: str,
        ledger: firestore.DocumentReference | None,
    ) -> tuple[int, int, int, list[InvalidDocument]]:
        # Reads first (Firestore requires it), all under the transaction's locks: the
        # changed document is read as it is now, so a stale event cannot roll a view back.
        states = builder.load(transaction, keys, refresh=document)
        planned: list[tuple[Any, dict[str, Any]]] = []
        invalid: list[InvalidDocument] = []
        budget = 1 if ledger is not None else 0
        for state in states:
            try:
                if state.invalid is not None:
                    raise state.invalid
                views = builder.compute(state)
            except InvalidDocument as error:
                invalid.append(error)  # leave this aggregate's views as they were
                continue
            budget += builder.planned_writes(state, views)
            planned.append((state, views))
        if budget > WRITE_BUDGET and len(keys) > 1:
            raise _GroupTooLarge()
        written = deleted = 0
        for state, views in planned:
            w, d = builder.write(transaction, state, views)
            written, deleted = written + w, deleted + d
        if ledger is not None:
            transaction.create(ledger, self._ledger_entry(document, invalid))
        return len(planned), written, deleted, invalid

    def _ledger_entry(self, document: str, invalid: list[InvalidDocument]) -> dict[str, Any]:
        return {
            "function": self.trigger.name,
            "document": document,
            "outcome": "invalid" if invalid else "applied",
            "processedAt": firestore.SERVER_TIMESTAMP,
            store.TTL_FIELD: store.expiry(),
        }

    def _record_invalid(self, outcome: Outcome) -> None:
        """An invalid source leaves its views untouched; say so where a developer will look."""
        if not outcome.invalid:
            return
        batch = self.client.batch()
        for error in outcome.invalid:
            fields = {
                "function": outcome.function,
                "eventId": outcome.event_id,
                "eventDocument": outcome.document,
                "sourcePath": error.path,
                "fields": error.fields,
                "error": str(error),
                "at": firestore.SERVER_TIMESTAMP,
            }
            ref = self.client.collection(store.ERRORS).document(
                store.safe_id(outcome.function, outcome.event_id, error.path)
            )
            batch.set(ref, fields)
            log.error("boiler.invalid_document", **{k: v for k, v in fields.items() if k != "at"})
        batch.commit()


def _backoff(attempt: int) -> float:
    """Full jitter: spreads colliding writers apart instead of retrying them in lockstep."""
    return random.uniform(0, min(1.0, 0.02 * 2**attempt))
