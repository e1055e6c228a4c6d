"""Counts RPCs, documents read, written and deleted by a google.cloud.firestore client.

Wraps the client's GAPIC API object (every RPC the client library sends goes through it):
reads are documents returned by lookups (a missing document counts, as Firestore bills it) and
by queries (an empty query counts one, as billed); writes are the writes of each commit but its
deletes (``DocumentReference.delete()`` is a commit of one delete), billed apart; a write with
only a precondition (``Attempt.verify``) is billed as a write. A document written with the TTL
field (``expireAt``) is a deferred delete: Firestore's TTL policy deletes it later, billed as a
delete. ``units`` prices them all in reads (``bench/prices.py``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from boiler.runtime.bookkeeping import TTL_FIELD
from google.cloud import firestore

from . import prices


@dataclass
class Tally:
    rpcs: int = 0
    reads: int = 0
    writes: int = 0
    deletes: int = 0
    deferred_deletes: int = 0  # documents written with the TTL field: deleted later, billed
    methods: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)  # writes per first path segment
    deleted: Counter[str] = field(default_factory=Counter)  # deletes per first path segment
    seconds: Counter[str] = field(default_factory=Counter)  # wall time spent in each RPC method
    trace: list[tuple[str, float, float]] = field(default_factory=list)  # (method, start, end)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, rpcs: int = 0, reads: int = 0, method: str | None = None) -> None:
        with self.lock:
            self.rpcs += rpcs
            self.reads += reads
            if method:
                self.methods[method] += rpcs

    def add_writes(self, writes: Sequence[Any]) -> None:
        """The writes of one commit (or batch write), each as Firestore bills it."""
        with self.lock:
            for write in writes:
                pb = getattr(write, "_pb", write)
                operation = pb.WhichOneof("operation")
                if operation == "delete":
                    self.deletes += 1
                    self.deleted[_collection(pb.delete)] += 1
                    continue
                self.writes += 1
                if operation == "update":
                    self.written[_collection(pb.update.name)] += 1
                    if TTL_FIELD in pb.update.fields:
                        self.deferred_deletes += 1
                else:
                    self.written[_collection(pb.transform.document)] += 1

    def took(self, method: str, seconds: float, end: float | None = None) -> None:
        end = time.perf_counter() if end is None else end
        with self.lock:
            self.seconds[method] += seconds
            self.trace.append((method, end - seconds, end))

    def reset(self) -> None:
        with self.lock:
            self.rpcs = self.reads = self.writes = self.deletes = self.deferred_deletes = 0
            self.methods.clear()
            self.written.clear()
            self.deleted.clear()
            self.seconds.clear()
            self.trace.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "rpcs": self.rpcs,
                "reads": self.reads,
                "writes": self.writes,
                "deletes": self.deletes,
                "deferred_deletes": self.deferred_deletes,
                "units": prices.units(
                    self.reads, self.writes, self.deletes + self.deferred_deletes
                ),
                "methods": dict(self.methods),
                "written": dict(self.written),
                "deleted": dict(self.deleted),
                "rpc_ms": {name: 1000 * value for name, value in self.seconds.items()},
            }


def _collection(name: str) -> str:
    """The first segment of a document's path ("users" for .../documents/users/u1/views/m1)."""
    return name.partition("/documents/")[2].split("/", 1)[0]


def _request_field(request: Any, name: str) -> Any:
    if isinstance(request, dict):
        return request.get(name)
    return getattr(request, name, None)


class _CountingApi:
    """Delegates to the real FirestoreClient, counting each call."""

    def __init__(self, api: Any, tally: Tally) -> None:
        self._api = api
        self._tally = tally

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._api, name)
        if name.startswith("_") or not callable(attr):
            return attr
        tally = self._tally

        if name == "batch_get_documents":

            def lookup(*args: Any, **kwargs: Any) -> Iterator[Any]:
                tally.add(rpcs=1, method=name)
                began = last = time.perf_counter()
                # A caller may stop early (DocumentReference.get): the RPC ends at its last answer.
                try:
                    for response in attr(*args, **kwargs):
                        last = time.perf_counter()
                        if response._pb.WhichOneof("result") is not None:
                            tally.add(reads=1)
                        yield response
                    last = time.perf_counter()
                finally:
                    tally.took(name, last - began, end=last)

            return lookup
        if name == "run_query":

            def query(*args: Any, **kwargs: Any) -> Iterator[Any]:
                tally.add(rpcs=1, method=name)
                began = last = time.perf_counter()
                found = 0
                try:
                    for response in attr(*args, **kwargs):
                        last = time.perf_counter()
                        if response._pb.HasField("document"):
                            found += 1
                        yield response
                    last = time.perf_counter()
                finally:
                    tally.took(name, last - began, end=last)
                    tally.add(reads=max(found, 1))

            return query

        def call(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request", args[0] if args else None)
            writes = (
                _request_field(request, "writes") if name in ("commit", "batch_write") else None
            )
            tally.add(rpcs=1, method=name)
            tally.add_writes(writes or ())
            began = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                tally.took(name, time.perf_counter() - began)

        return call


def counting_client(project: str) -> tuple[firestore.Client, Tally]:
    """A client whose every RPC is tallied (the emulator host comes from the environment)."""
    client = firestore.Client(project=project)
    tally = Tally()
    client._firestore_api_internal = _CountingApi(client._firestore_api, tally)
    return client, tally
