"""Where boiler keeps its own bookkeeping in Firestore (closed to clients by the rules)."""

from __future__ import annotations

import datetime as dt

from google.cloud import firestore

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
