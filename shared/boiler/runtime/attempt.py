"""One optimistic attempt: snapshot reads, then one atomic commit guarded by preconditions.

Firestore's server-SDK transactions lock what they read. Two triggers rebuilding the same
aggregate then deadlock (each holds a read lock the other's write needs) until a lock
timeout, and a client's plain write to a document a trigger is reading waits or fails. boiler
instead reads without locks at one snapshot time, and commits every write in one batch whose
aggregate-record writes carry a last-update-time (or must-not-exist) precondition. A
concurrent rebuild makes the commit fail fast with FAILED_PRECONDITION and the attempt is
retried on fresh data; nothing ever waits on a lock.

>>> attempt = Attempt(client)
>>> record, doc = attempt.get_all([record_ref, doc_ref])
>>> attempt.guarded_update(record_ref, record, {...}); attempt.set(view_ref, {...})
>>> attempt.commit()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.query import Query
from google.cloud.firestore_v1.types import write as write_pb

# A field no document has: ``verify`` deletes it, which changes nothing.
_VERIFY_FIELD = "_boilerVerify"


class Attempt:
    """Reads at one snapshot (the first read's time) and stages writes for one atomic commit."""

    def __init__(self, client: firestore.Client, number: int = 1) -> None:
        self.client = client
        self.number = number  # 1 for the first try; retries reread everything (see pipeline)
        self.read_time: dt.datetime | None = None
        self.update_times: dict[str, dt.datetime | None] = {}  # every document read: its version
        self._batch = client.batch()
        self.writes = 0
        self.written: set[str] = set()  # paths of the documents staged by set() and delete()

    # -- reads (no locks) -------------------------------------------------------------------
    def get_all(
        self, refs: Iterable[firestore.DocumentReference]
    ) -> list[firestore.DocumentSnapshot]:
        refs = list(refs)
        if not refs:
            return []
        snapshots = list(self.client.get_all(refs, read_time=self.read_time))
        for snapshot in snapshots:
            self._saw(snapshot)
        return snapshots

    def query(self, query: Query) -> list[firestore.DocumentSnapshot]:
        snapshots = list(query.stream(read_time=self.read_time))  # type: ignore[attr-defined]
        for snapshot in snapshots:
            self._saw(snapshot)
        return snapshots

    def _saw(self, snapshot: firestore.DocumentSnapshot) -> None:
        if self.read_time is None and snapshot.read_time is not None:
            self.read_time = snapshot.read_time  # later reads see the same snapshot
        self.update_times[snapshot.reference.path] = (
            snapshot.update_time if snapshot.exists else None
        )

    # -- writes ------------------------------------------------------------------------------
    def set(self, ref: firestore.DocumentReference, data: Mapping[str, Any]) -> None:
        self._batch.set(ref, dict(data))
        self.writes += 1
        self.written.add(ref.path)

    def set_all(self, refs: Sequence[firestore.DocumentReference], data: Mapping[str, Any]) -> None:
        """``set`` of one content at every ref, encoded once.

        A fan-out writes one view content at many paths (each participant's copy), and
        encoding the values is most of a commit's CPU. The Write is built the way the
        client's ``set`` builds it (``pbs_for_set_no_merge``), then copied per path.
        """
        if not refs:
            return
        pbs = _helpers.pbs_for_set_no_merge(refs[0]._document_path, dict(data))
        if len(pbs) != 1 or len(refs) == 1:  # transforms (none in views): the plain way
            for ref in refs:
                self.set(ref, data)
            return
        template = write_pb.Write.pb(pbs[0])
        copies = []
        for ref in refs:
            copy = type(template)()
            copy.CopyFrom(template)
            copy.update.name = ref._document_path
            copies.append(write_pb.Write.wrap(copy))
        self._batch._add_write_pbs(copies)
        self.writes += len(refs)
        self.written.update(ref.path for ref in refs)

    def create(self, ref: firestore.DocumentReference, data: Mapping[str, Any]) -> None:
        self._batch.create(ref, dict(data))
        self.writes += 1

    def delete(self, ref: firestore.DocumentReference) -> None:
        self._batch.delete(ref)
        self.writes += 1
        self.written.add(ref.path)

    def guarded_update(
        self,
        ref: firestore.DocumentReference,
        seen: firestore.DocumentSnapshot | None,
        data: Mapping[str, Any],
    ) -> None:
        """Write ``data`` only if ``ref`` is still as ``seen`` (created if it did not exist)."""
        if seen is None or not seen.exists:
            self._batch.create(
                ref, {k: v for k, v in data.items() if v is not firestore.DELETE_FIELD}
            )
        else:
            option = self.client.write_option(last_update_time=seen.update_time)
            self._batch.update(ref, dict(data), option=option)
        self.writes += 1

    def guarded_delete(
        self, ref: firestore.DocumentReference, seen: firestore.DocumentSnapshot
    ) -> None:
        self._batch.delete(ref, option=self.client.write_option(last_update_time=seen.update_time))
        self.writes += 1

    def verify(self, ref: firestore.DocumentReference, seen: firestore.DocumentSnapshot) -> None:
        """Fail the commit unless ``ref`` is still as ``seen``, without changing it.

        Firestore has no verify-only write; a no-op write with a precondition is one: deleting
        a field the document lacks (or deleting a missing document) changes nothing, keeps
        ``update_time`` and fires no trigger, but its precondition is checked atomically
        with the commit (FailedPrecondition / AlreadyExists: a lost race, retried).

        >>> attempt.verify(meeting_ref, meeting)   # read, not written: still guards the commit
        """
        if seen.exists:
            absent = _VERIFY_FIELD
            while absent in (seen.to_dict() or {}):
                absent += "_"
            option = self.client.write_option(last_update_time=seen.update_time)
            self._batch.update(ref, {absent: firestore.DELETE_FIELD}, option=option)
        else:
            self._batch.delete(ref, option=self.client.write_option(exists=False))
        self.writes += 1

    def commit(self) -> None:
        """Apply every staged write atomically (FailedPrecondition/AlreadyExists on a race)."""
        if self.writes:
            self._batch.commit()
