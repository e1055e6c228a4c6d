"""boiler's own documents in Firestore: every collection, path and field shape, in one place.

The generated rules close all of them to clients. Each kind of document has its ref, its
entry (what is written) and, where the runtime reads it back, its reader::

    ledger_ref(client, "meeting_session_on_ticket", event_id)   # _boilerLedger/{fn}:{event}
    ledger_entry("meeting_session_on_ticket", "meetings/m1", invalid=False)["outcome"]  # 'applied'
    Record.of(snapshot.to_dict()).version                        # an aggregate record, as read

- aggregate records ``_boilerAggregates/{View}/_boilerRecords/{key}``: sources, dependencies,
  view hashes (``record_entry``, ``Record``, ``record_changes``, ``dependents_query``);
- the ledger ``_boilerLedger/{function}:{eventId}``: one entry per processed view event;
- pending entries ``_boilerPending/{function}:{eventId}``: work written ahead or handed to
  the durable path (``write_ahead_entry``, ``failure_entry``, ``Work.of``);
- error documents ``_boilerErrors/{id}``: held-back aggregates, dropped caches, ``apply`` bugs;
- command order ``_boilerCommandOrder/{Command}:{digest}``: the last applied command per target;
- migrations ``_boilerMigrations/{View}``: one view's migration to its declared version
  (runtime/migrate.py keeps their shape).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from ..errors import BoilerError, InvalidDocument

# Collection names; the generated rules deny clients all of them.
AGGREGATES = (
    "_boilerAggregates"  # _boilerAggregates/{View}/_boilerRecords/{key}: sources + view hashes
)
# A collection-group id no app uses, so index overrides on it touch only boiler's records.
RECORDS = "_boilerRecords"
LEDGER = "_boilerLedger"  # one document per processed (function, event id)
ERRORS = "_boilerErrors"  # invalid documents and other failures a developer must see
PENDING = "_boilerPending"  # work handed to the durable path
ORDER = "_boilerCommandOrder"  # per (command type, target): the last applied command
MIGRATIONS = "_boilerMigrations"  # per view model: its migration's version, cursor and counts
REBUILDS = "_boilerRebuilds"  # per view model: its last rebuild's run, cursor or shards, counts
INTERNAL_COLLECTIONS = (AGGREGATES, LEDGER, ERRORS, PENDING, ORDER, MIGRATIONS, REBUILDS)

LEDGER_TTL = dt.timedelta(days=7)
TTL_FIELD = "expireAt"
VIEW, COMMAND = "view", "command"  # the kinds of work a pending entry (and a task) holds


def safe_id(*parts: str) -> str:
    """A document id from parts; '/' is not allowed in ids."""
    return ":".join(parts).replace("/", "|")


def expiry() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + LEDGER_TTL


# -- aggregate records -------------------------------------------------------------------------
def aggregate_ref(client: firestore.Client, view: str, key: str) -> firestore.DocumentReference:
    return client.collection(AGGREGATES, view, RECORDS).document(key)


def aggregates_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return client.collection(AGGREGATES, view, RECORDS)


# Large record fields no query uses: exempt from indexing (``deps`` stays: dependents_query).
UNINDEXED_RECORD_FIELDS = ("sources", "views", "applied")
# Record fields present only in some states: dropped from the stored record when absent.
# ("problem": one problem, as records before "problems" stored it.)
_OPTIONAL_RECORD_FIELDS = {"sources", "collections", "unsynced", "problems", "problem", "uncached"}


def dependents_query(client: firestore.Client, view: str, document: str) -> Any:
    """Keys (ids only) of ``view``'s records listing ``document`` in ``deps``, in id order."""
    return (
        aggregates_of(client, view)
        .where(filter=FieldFilter("deps", "array_contains", document))
        .order_by(FieldPath.document_id())
        .select([])
    )


@dataclass
class Record:
    """An aggregate record as read; empty when there is none.

    >>> Record.of({"views": {"users/u1/meetingSessions/m1": "9f2c"}, "version": "a1"}).version
    'a1'
    """

    sources: dict[str, Any] = field(default_factory=dict)
    collections: list[str] = field(default_factory=list)
    deps: list[str] = field(default_factory=list)
    views: dict[str, str] = field(default_factory=dict)
    unsynced: list[str] = field(default_factory=list)  # view paths a chunked write left behind
    # The error documents this aggregate recorded and has not seen resolved: {id: problem_of}.
    problems: dict[str, dict[str, Any]] = field(default_factory=dict)
    uncached: bool = False  # too large with its source cache: stored without it
    version: str = ""  # changes with every record write
    applied: list[str] = field(default_factory=list)  # marks of the last events it applied

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Record:
        data = data or {}
        return cls(
            sources=data.get("sources", {}),
            collections=data.get("collections", []),
            deps=data.get("deps", []),
            views=data.get("views", {}),
            unsynced=data.get("unsynced", []),
            problems=_problems(data),
            uncached=bool(data.get("uncached")),
            version=str(data.get("version", "")),
            applied=list(data.get("applied") or []),
        )


def record_entry(
    key: str,
    sources: Mapping[str, Any],
    collections: list[str],
    deps: list[str],
    views: Mapping[str, str],
    unsynced: list[str],
    problems: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """The record of one aggregate (before ``fit``: maybe too large for one document)."""
    record: dict[str, Any] = {
        "key": key,
        "sources": sources,
        "collections": collections,
        "deps": deps,
        "views": views,
    }
    if unsynced:  # a root deleted with more views than one commit holds keeps a tombstone
        record["unsynced"] = unsynced
    if problems:
        record["problems"] = dict(problems)
    return record


def _problems(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    problems = dict(data.get("problems") or {})
    old = data.get("problem")
    if isinstance(old, dict) and "id" in old:
        problems.setdefault(str(old["id"]), old)
    return problems


def uncached(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` without its source cache: every event then rereads the whole aggregate."""
    lean = {k: v for k, v in record.items() if k not in ("sources", "collections")}
    lean["uncached"] = True
    return lean


def record_changes(stored: Mapping[str, Any] | None, record: Mapping[str, Any]) -> dict[str, Any]:
    """The field updates turning ``stored`` into ``record``; source entries one by one.

    A commit then carries what changed (one ticket, say), not the whole cached aggregate.
    """
    stored = stored or {}
    changes: dict[str, Any] = {}
    for name in record.keys() | (stored.keys() & _OPTIONAL_RECORD_FIELDS):
        old, new = stored.get(name), record.get(name, firestore.DELETE_FIELD)
        if name == "sources" and isinstance(old, dict):
            for path in old.keys() | new.keys():
                if path not in new:
                    changes[FieldPath(name, path).to_api_repr()] = firestore.DELETE_FIELD
                elif path not in old or old[path] != new[path]:
                    changes[FieldPath(name, path).to_api_repr()] = new[path]
        elif old != new:
            changes[name] = new
    return changes


def version_of(snapshot: firestore.DocumentSnapshot) -> str | None:
    """The version of a record as read (without decoding the rest); ``None`` if it is gone."""
    if not snapshot.exists:
        return None
    try:
        return str(snapshot.get("version"))
    except KeyError:
        return ""


def versioned(version: str) -> dict[str, Any]:
    """Stamped on every record write: the version a chunked write's follow-ups check."""
    return {"version": version, "updatedAt": firestore.SERVER_TIMESTAMP}


def touched() -> dict[str, Any]:
    """A record write that changes nothing but its version time: guards a repair by it."""
    return {"updatedAt": firestore.SERVER_TIMESTAMP}


def unsynced_update(rest: list[str]) -> dict[str, Any]:
    """After a follow-up chunk: the views still to write (none: the field goes)."""
    return {"unsynced": rest or firestore.DELETE_FIELD}


# -- the ledger --------------------------------------------------------------------------------
# An event applied in one commit is marked in the records that commit writes (their
# ``applied`` list, the last MARKS_KEPT events): no ledger document to write, read or expire.
# An event spread over several commits (a fan-out in groups, a chunked aggregate) gets a
# ledger document with its last commit. A mark that has aged out, or was never written (the
# event changed nothing), costs a redelivery only its reads: the rebuild is state-based.
MARKS_KEPT = 20


def event_mark(function: str, event_id: str) -> str:
    """The mark of (function, event) in a record: short, since every event reads it back."""
    return hashlib.blake2b(f"{function}\0{event_id}".encode(), digest_size=8).hexdigest()


def with_mark(stored: Mapping[str, Any] | None, mark: str) -> list[str]:
    """The record's ``applied`` list with ``mark`` added (the oldest dropped)."""
    applied = [m for m in (stored or {}).get("applied") or [] if m != mark]
    return [*applied, mark][-MARKS_KEPT:]


def ledger_ref(
    client: firestore.Client, function: str, event_id: str
) -> firestore.DocumentReference:
    return client.collection(LEDGER).document(safe_id(function, event_id))


def ledger_entry(function: str, document: str, invalid: bool) -> dict[str, Any]:
    """One processed view event; expires after ``LEDGER_TTL`` (TTL policy on ``expireAt``)."""
    return {
        "function": function,
        "document": document,
        "outcome": "invalid" if invalid else "applied",
        "processedAt": firestore.SERVER_TIMESTAMP,
        TTL_FIELD: expiry(),
    }


# -- pending entries (write-ahead and the durable path) ----------------------------------------
class Work(Protocol):
    """What a pending entry names: a view trigger's or a command's event (their outcomes)."""

    @property
    def function(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def document(self) -> str: ...


@dataclass(frozen=True)
class PendingWork:
    """The work a pending entry or a redrive task names, as read back."""

    kind: str
    function: str
    event_id: str
    document: str

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> PendingWork:
        return cls(
            str(entry.get("kind", VIEW)),
            str(entry.get("function", "")),
            str(entry.get("eventId", "")),
            str(entry.get("document", "")),
        )


def pending_ref(
    client: firestore.Client, function: str, event_id: str
) -> firestore.DocumentReference:
    return client.collection(PENDING).document(safe_id(function, event_id))


def pending_entries(client: firestore.Client) -> Iterator[firestore.DocumentSnapshot]:
    yield from client.collection(PENDING).stream()


def work_fields(kind: str, function: str, event_id: str, document: str) -> dict[str, Any]:
    """What names the work: the fields every pending entry and every redrive task carry."""
    return {"kind": kind, "function": function, "eventId": event_id, "document": document}


def write_ahead_entry(kind: str, work: Work) -> dict[str, Any]:
    """Merged before the first commit: the event is in flight (attempts counts the tries)."""
    return {
        **work_fields(kind, work.function, work.event_id, work.document),
        "attempts": firestore.Increment(1),
        "startedAt": firestore.SERVER_TIMESTAMP,
    }


def failure_entry(kind: str, work: Work, error: BaseException) -> dict[str, Any]:
    """Merged when the event failed short of a final outcome: why, and how often.

    >>> failure_entry(COMMAND, outcome, error)["kind"]
    'command'
    """
    return {
        **work_fields(kind, work.function, work.event_id, work.document),
        "error": repr(error),
        "cause": repr(error.__cause__) if error.__cause__ else None,
        "failedAt": firestore.SERVER_TIMESTAMP,
        "failures": firestore.Increment(1),
    }


def pending_since(entry: Mapping[str, Any]) -> dt.datetime | None:
    """When a pending entry was written ahead (or, if that write was lost, when it failed)."""
    return entry.get("startedAt") or entry.get("failedAt")


# -- error documents ---------------------------------------------------------------------------
def error_ref(client: firestore.Client, error_id: str) -> firestore.DocumentReference:
    return client.collection(ERRORS).document(error_id)


def problem_of(view: str, key: str, error: BoilerError) -> dict[str, Any]:
    """What an aggregate record keeps about why its views are held back (``problem`` field).

    An invalid document is recorded once per (view, document), however many aggregates it
    holds back; any other failure once per aggregate.
    """
    if isinstance(error, InvalidDocument):
        return {
            "id": safe_id(view, error.path),
            "kind": "invalid-document",
            "path": error.path,
            "error": str(error),
        }
    return {"id": safe_id(view, "aggregate", key), "kind": "build-failed", "error": str(error)}


def error_entry(
    view: str, key: str, error: BoilerError, origin: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``_boilerErrors`` document for a problem: what, where, and the event that found it."""
    entry: dict[str, Any] = {
        **problem_of(view, key, error),
        "view": view,
        "key": key,
        **origin,
        "at": firestore.SERVER_TIMESTAMP,
    }
    if isinstance(error, InvalidDocument):
        entry["sourcePath"] = error.path
        entry["fields"] = error.fields
        entry["problems"] = [{"field": name, "message": text} for name, text in error.problems]
    return entry


def origin_of(function: str, event_id: str, document: str) -> dict[str, Any]:
    """Who found a problem (stamped on its error document): the function and its event."""
    return {"function": function, "eventId": event_id, "eventDocument": document}


def uncached_error_id(view: str, key: str) -> str:
    return safe_id(view, "uncached", key)


def uncached_entry(
    view: str,
    key: str,
    record_bytes: int,
    budget_bytes: int,
    source_documents: int,
    origin: Mapping[str, Any],
) -> dict[str, Any]:
    """Reported once when a record drops its source cache (removed when it fits again)."""
    message = (
        f"{view} {key}: its record would be {record_bytes:,} bytes with its "
        f"{source_documents:,} cached source documents, over the "
        f"{budget_bytes:,}-byte budget; sources are no longer cached, "
        "so every event rereads the whole aggregate (views stay exact)"
    )
    return {
        "kind": "uncached",
        "view": view,
        "key": key,
        "recordBytes": record_bytes,
        "budgetBytes": budget_bytes,
        "sourceDocuments": source_documents,
        "error": message,
        **origin,
        "at": firestore.SERVER_TIMESTAMP,
    }


def command_error_id(function: str, event_id: str) -> str:
    return safe_id(function, event_id)


def command_error_entry(
    function: str, event_id: str, document: str, error: BaseException
) -> dict[str, Any]:
    """A command whose ``apply`` raised (a bug): rejected, and recorded here for the developer."""
    return {
        **origin_of(function, event_id, document),
        "error": repr(error),
        "at": firestore.SERVER_TIMESTAMP,
    }


# -- command order -----------------------------------------------------------------------------
def order_ref(
    client: firestore.Client, command: str, target: Mapping[str, str]
) -> firestore.DocumentReference:
    # A digest keeps any value (slashes, dots, 1,500-byte ids) a valid document id.
    values = json.dumps([command, *target.values()])
    digest = hashlib.sha256(values.encode()).hexdigest()[:32]
    return client.collection(ORDER).document(f"{command}:{digest}")


def order_entry(
    command: str, target: Mapping[str, str], snapshot: firestore.DocumentSnapshot
) -> dict[str, Any]:
    """The order document once the command stored as ``snapshot`` is applied."""
    return {
        "command": command,
        "target": dict(target),
        "createTime": snapshot.create_time,
        "commandId": snapshot.id,
        "commandPath": snapshot.reference.path,
        TTL_FIELD: expiry(),
    }


def last_applied(order: firestore.DocumentSnapshot) -> tuple[Any, str] | None:
    """(create time, command id) of the last applied command of an order document."""
    last = order.to_dict() if order.exists else None
    if not last:
        return None
    return last["createTime"], str(last["commandId"])
