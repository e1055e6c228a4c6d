"""Where boiler keeps its own bookkeeping in Firestore (closed to clients by the rules)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from google.cloud import firestore

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
INTERNAL_COLLECTIONS = (AGGREGATES, LEDGER, ERRORS, PENDING, ORDER)

LEDGER_TTL = dt.timedelta(days=7)
TTL_FIELD = "expireAt"


def safe_id(*parts: str) -> str:
    """A document id from parts; '/' is not allowed in ids."""
    return ":".join(parts).replace("/", "|")


def aggregate_ref(client: firestore.Client, view: str, key: str) -> firestore.DocumentReference:
    return client.collection(AGGREGATES, view, RECORDS).document(key)


def aggregates_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return client.collection(AGGREGATES, view, RECORDS)


def ledger_ref(
    client: firestore.Client, function: str, event_id: str
) -> firestore.DocumentReference:
    return client.collection(LEDGER).document(safe_id(function, event_id))


def expiry() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + LEDGER_TTL


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
