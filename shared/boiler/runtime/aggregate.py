"""One aggregate (a root document and everything joined to it) within one optimistic attempt.

boiler keeps, per (view model, root id), a record holding the raw source documents the views
were built from, the dependency paths (for reverse lookups) and a hash of every view written.
An event refreshes only the document it names; everything else comes from the record. So
reads per event do not grow with the aggregate, a stale or duplicate event recomputes the
same views, and unchanged views are not rewritten.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..documents import DomainModel
from ..errors import BoilerError, BuildFailed, InvalidDocument
from ..sources import ChildrenSpec, KeyPage, Sources, SourceSpec
from ..views import ViewModel
from . import bookkeeping, log
from . import sizes as sizes_module
from .attempt import Attempt

Raw = dict[str, Any] | None  # a document's fields, or None when it does not exist
KEY_PAGE = 500  # affected aggregates fetched per dependency query


@dataclass
class AggregateState:
    """The record of one aggregate as read in the attempt, then updated in memory."""

    key: str
    sources: dict[str, Raw] = field(default_factory=dict)
    collections: set[str] = field(default_factory=set)
    views: dict[str, str] = field(default_factory=dict)
    stored: dict[str, Any] | None = None  # the record as read, to skip unchanged writes
    snapshot: firestore.DocumentSnapshot | None = None  # its version: the commit's precondition
    invalid: InvalidDocument | None = None
    over_bound: BuildFailed | None = None  # a Many or Children past its max: held back
    # View paths a chunked write has not reached yet: their stored content is unknown.
    unsynced: set[str] = field(default_factory=set)
    # The root as validated last, with the raw fields it came from (parsed once per change).
    parsed_root: tuple[dict[str, Any], DomainModel] | None = None

    @classmethod
    def from_snapshot(cls, key: str, snapshot: firestore.DocumentSnapshot | None) -> AggregateState:
        if snapshot is None or not snapshot.exists:
            return cls(key)
        data = snapshot.to_dict() or {}
        record = bookkeeping.Record.of(data)
        return cls(
            key,
            sources=dict(record.sources),
            collections=set(record.collections),
            views=dict(record.views),
            stored=data,
            snapshot=snapshot,
            unsynced=set(record.unsynced),
        )

    @property
    def record(self) -> bookkeeping.Record:
        """The record as read (empty if there was none)."""
        return bookkeeping.Record.of(self.stored)


@dataclass
class WritePlan:
    """What one aggregate's rebuild must write: view sets and deletes, in a stable order."""

    state: AggregateState
    views: dict[str, ViewModel]
    digests: dict[str, str]
    sizes: dict[str, int]  # estimated bytes per view path (deletes cost ~nothing)
    operations: list[str]  # view paths to set (in ``views``) or delete (not in ``views``)
    version: str = ""  # the record version written with the first chunk
    # Why the views cannot be rebuilt now (an invalid source, build() raising, a view too
    # large): the record is still refreshed, so the fix of any source finds this aggregate.
    problem: BoilerError | None = None

    def writes(self) -> int:
        """Commit writes: every operation plus the record."""
        return len(self.operations) + 1

    def take(
        self, max_writes: int, max_bytes: int, operations: list[str] | None = None
    ) -> tuple[list[str], list[str]]:
        """Split ``operations`` (default: all) into a first chunk within both budgets (never
        empty) and the rest (runtime/chunks.py)."""
        operations = self.operations if operations is None else operations
        count = total = 0
        for count, path in enumerate(operations):  # noqa: B007 - count is the split point
            total += self.sizes.get(path, 64)
            if count >= max_writes or (count and total > max_bytes):
                break
        else:
            count = len(operations)
        return operations[:count], operations[count:]


# A view payload this large (JSON) gets its exact Firestore size checked against the limit.
_CHECK_SIZE_ABOVE = 500_000


def _children_held(sources: Mapping[str, Raw], collection: str) -> int:
    prefix = f"{collection}/"
    return sum(
        1
        for path, raw in sources.items()
        if raw is not None and path.startswith(prefix) and "/" not in path[len(prefix) :]
    )


def _hops(spec: SourceSpec) -> int:
    """Reads from the root to ``spec``'s documents: 1 for a join from the root, +1 per ``of``."""
    parent = getattr(spec, "parent", None)
    return 1 if parent is None else 1 + _hops(parent)


def _payload(view: ViewModel) -> bytes:
    return json.dumps(
        view.model_dump(by_alias=True, mode="json"), sort_keys=True, separators=(",", ":")
    ).encode()


class AggregateBuilder:
    """Loads, computes and writes the aggregates of one view model."""

    def __init__(
        self,
        view: type[ViewModel],
        client: firestore.Client,
        origin: Mapping[str, Any] | None = None,
    ) -> None:
        self.view = view
        self.spec = view.spec()
        self.sources: type[Sources] = self.spec.sources
        self.root = self.sources.root()
        self.client = client
        # Who is rebuilding (function, event): stamped on the error documents it records.
        self.origin = dict(origin or {})
        # Every kind of source answers the same questions (sources.SourceSpec): loop, never ask.
        self._specs = tuple(self.sources.__sources__.values())
        self._models = [(spec.template, spec.model) for spec in self._specs]
        self._hops = max((_hops(spec) for spec in self._specs), default=1)

    # -- paths ---------------------------------------------------------------------------
    def root_path(self, key: str) -> str:
        return self.root.template.format(**{self.spec.key_wildcard: key})

    def key_of(self, template_values: Mapping[str, str]) -> str:
        return template_values[self.spec.key_wildcard]

    def dependents(self, document: str) -> Iterator[KeyPage]:
        """Keys of the records listing ``document`` in ``deps``, KEY_PAGE at a time.

        Each page query scans the index once; the next page is read only when asked for.
        """
        query = bookkeeping.dependents_query(self.client, self.spec.name, document)
        cursor = None
        while True:
            page = query.start_after(cursor) if cursor is not None else query
            snapshots = list(page.limit(KEY_PAGE + 1).stream())
            more_pages = len(snapshots) > KEY_PAGE
            yield [snap.id for snap in snapshots[:KEY_PAGE]], more_pages
            if not more_pages:
                return
            cursor = snapshots[KEY_PAGE - 1]

    def record_ref(self, key: str) -> firestore.DocumentReference:
        return bookkeeping.aggregate_ref(self.client, self.spec.name, key)

    def _declared(self, path: str, raw: Raw) -> Raw:
        """What the record caches of a source document: only the fields its model declares."""
        if raw is None:
            return None
        models = [model for template, model in self._models if template.match(path) is not None]
        if not models:
            return raw
        return {
            name: value for model in models for name, value in model.declared_fields(raw).items()
        }

    # -- loading -------------------------------------------------------------------------
    def _root_model(self, state: AggregateState) -> DomainModel | None:
        path = self.root_path(state.key)
        raw = state.sources.get(path)
        if raw is None:
            return None
        if state.parsed_root is None or state.parsed_root[0] is not raw:
            root = self.root.model.from_firestore(path, raw)
            for spec in self._specs:
                spec.paths(root, path)  # ids that are no document ids make the root invalid
            state.parsed_root = (raw, root)
        return state.parsed_root[1]

    def _required(self, state: AggregateState) -> tuple[set[str], set[str]]:
        """Document paths and child collections this aggregate needs, as far as known yet."""
        root_path = self.root_path(state.key)
        if root_path not in state.sources:
            return {root_path}, set()
        root = self._root_model(state)
        if root is None:
            return {root_path}, set()
        paths: set[str] = set()
        collections: set[str] = set()
        for spec in self._specs:
            named = spec.paths(root, root_path, state.sources)
            bound = spec.bound()
            if bound is not None and len(named) > bound:
                raise self._over_bound(state, spec, f"{len(named):,}")
            paths.update(named)
            for collection in spec.collections(root, root_path):
                held = _children_held(state.sources, collection)
                if bound is not None and held > bound:  # grown one event at a time
                    raise self._over_bound(state, spec, f"{held:,}")
                collections.add(collection)
        return paths, collections

    def _over_bound(self, state: AggregateState, spec: SourceSpec, count: str) -> BuildFailed:
        bound = spec.bound()
        kind = type(spec).__name__.removesuffix("Spec")
        return BuildFailed(
            self.spec.name,
            state.key,
            f"{self.sources.__name__}.{spec.name} holds {count} {spec.model.__name__} documents, "
            f"over its bound of {bound:,} ({kind}({spec.model.__name__}, max={bound})); its views "
            f"are held back. Raise max= if the record still fits, or count and list them with "
            f"an aggregate view (Count/Top over a Query), whose cost does not grow with them",
            code="aggregate-over-bound",
        )

    def load(
        self,
        attempt: Attempt,
        keys: Iterable[str],
        refresh: str | None,
        full: bool = False,
        also: Iterable[firestore.DocumentReference] = (),
        siblings: Iterable[str] = (),
    ) -> list[AggregateState]:
        """Read the records of ``keys`` and the changed document in one batch, then what is missing.

        ``siblings``: documents read again in the same batch where a record caches them (a
        retry's, see ``siblings``). ``also`` are read in the same batch, for the caller
        (``attempt.update_times`` has them).
        """
        keys = list(keys)
        refs = [self.record_ref(key) for key in keys]
        fresh_paths = ([refresh] if refresh is not None else []) + list(siblings)
        refs.extend(self.client.document(path) for path in fresh_paths)
        refs.extend(also)
        snapshots = {snap.reference.path: snap for snap in attempt.get_all(refs)}
        fresh: dict[str, Raw] = {}
        for path in fresh_paths:
            snap = snapshots.get(path)
            fresh[path] = self._declared(path, snap.to_dict() if snap and snap.exists else None)
        states = []
        for key, ref in zip(keys, refs, strict=False):
            state = AggregateState.from_snapshot(key, snapshots.get(ref.path))
            if full:  # forget the cached sources: everything is read again below
                state.sources, state.collections = {}, set()
            if refresh is not None:
                state.sources[refresh] = fresh[refresh]
            for path in siblings:
                if path in state.sources:
                    state.sources[path] = fresh[path]
            states.append(state)
        self.fill(attempt, states)
        return states

    def siblings(self, states: Iterable[AggregateState], document: str) -> list[str]:
        """The documents these records cache from the same source as ``document`` (the other
        tickets of a ticket's meeting), without it. A retry after a lost race reads them again
        with the record: its commit then covers the changes of the events it raced with (their
        retries find them covered and stop), at the cost of one read each, in the same batch."""
        templates = [t for t, _ in self._models if t.match(document) is not None]
        found = {
            path
            for state in states
            for path in state.sources
            if path != document and any(t.match(path) is not None for t in templates)
        }
        return sorted(found)

    def covers(self, state: AggregateState, document: str) -> bool:
        """Whether the record as read holds ``document`` as it is now (``load`` refreshed it)
        and is settled: its views then already show the document's current state."""
        record = state.record
        if state.snapshot is None or record.uncached or record.unsynced or record.problems:
            return False
        if state.invalid is not None or state.over_bound is not None:
            return False
        return record.sources.get(document) == state.sources.get(document)

    def fill(self, attempt: Attempt, states: list[AggregateState]) -> None:
        """Read what each aggregate needs and does not hold yet (all of it for a new state).

        A round per hop: the root, what the root points to, what those point to (chained
        joins), until a round finds nothing new.
        """
        for _ in range(2 + self._hops):
            wanted_docs: dict[str, list[AggregateState]] = {}
            wanted_collections: list[tuple[str, AggregateState]] = []
            for state in states:
                if state.invalid is not None or state.over_bound is not None:
                    continue
                try:
                    paths, collections = self._required(state)
                except InvalidDocument as error:
                    state.invalid = error
                    continue
                except BuildFailed as error:
                    state.over_bound = error
                    continue
                for path in paths - state.sources.keys():
                    wanted_docs.setdefault(path, []).append(state)
                wanted_collections.extend((c, state) for c in collections - state.collections)
            if not wanted_docs and not wanted_collections:
                break
            if wanted_docs:
                refs = [self.client.document(path) for path in wanted_docs]
                for snap in attempt.get_all(refs):
                    raw = self._declared(
                        snap.reference.path, snap.to_dict() if snap.exists else None
                    )
                    for state in wanted_docs[snap.reference.path]:
                        state.sources[snap.reference.path] = raw
            for collection, state in wanted_collections:
                spec = self._children_of(collection)
                query = self.client.collection(collection).order_by(FieldPath.document_id())
                found = attempt.query(query.limit(spec.max + 1))
                for snap in found:
                    state.sources[snap.reference.path] = self._declared(
                        snap.reference.path, snap.to_dict()
                    )
                if len(found) > spec.max:  # not cached as complete: read again, bounded
                    state.over_bound = self._over_bound(state, spec, f"more than {spec.max:,}")
                else:
                    state.collections.add(collection)
        for state in states:
            self._forget_unneeded(state)

    def _children_of(self, collection: str) -> ChildrenSpec:
        name = collection.rsplit("/", 1)[1]
        return next(
            spec
            for spec in self._specs
            if isinstance(spec, ChildrenSpec) and spec.template.segments[-2] == name
        )

    def _forget_unneeded(self, state: AggregateState) -> None:
        if state.invalid is not None or state.over_bound is not None:
            return
        paths, collections = self._required(state)
        state.sources = {
            path: raw
            for path, raw in state.sources.items()
            if path in paths or (raw is not None and path.rsplit("/", 1)[0] in collections)
        }
        state.collections &= collections

    # -- computing -----------------------------------------------------------------------
    def compute(self, state: AggregateState) -> dict[str, ViewModel]:
        """The views of this aggregate; raises ``InvalidDocument`` if a source does not validate."""
        root = self._root_model(state)
        if root is None:
            return {}
        root_path = self.root_path(state.key)
        loaded = {spec.name: spec.assemble(root, root_path, state.sources) for spec in self._specs}
        return dict(self.view.build_paths(self.sources(state.key, **loaded)))

    def dependencies(self, state: AggregateState) -> list[str]:
        """Documents found through root fields: a change to one must find this aggregate.

        An invalid root names none reliably: keep the ones recorded before.
        """
        try:
            root = self._root_model(state)
            if root is None:
                return []
            root_path = self.root_path(state.key)
            return sorted(
                {
                    path
                    for spec in self._specs
                    for path in spec.dependencies(root, root_path, state.sources)
                }
            )
        except InvalidDocument:  # the root, or a chained join's holder
            return list(state.record.deps)

    def rebuild(self, state: AggregateState) -> WritePlan:
        """Compute the views and plan their writes; a failure plans the record alone.

        One aggregate that cannot be built (an invalid source, ``build()`` raising) never
        holds back the others of the same event, and never loses the change it was given.
        """
        if state.over_bound is not None:
            return self.held_back(state, state.over_bound)
        try:
            if state.invalid is not None:
                raise state.invalid
            views = self.compute(state)
        except InvalidDocument as error:
            return self.held_back(state, error)
        except Exception as error:  # user code in build(): a bug to report, not to retry
            return self.held_back(
                state, BuildFailed(self.spec.name, state.key, f"build() raised {error!r}")
            )
        return self.plan(state, views)

    def held_back(self, state: AggregateState, problem: BoilerError) -> WritePlan:
        """A plan that leaves every view as it is and records ``problem`` with fresh sources."""
        return WritePlan(state, {}, dict(state.views), {}, [], problem=problem)

    # -- writing -------------------------------------------------------------------------
    def plan(self, state: AggregateState, views: dict[str, ViewModel]) -> WritePlan:
        """The view writes and deletes that bring the stored views to ``views``."""
        digests: dict[str, str] = {}
        sizes: dict[str, int] = {}
        hashed: dict[int, tuple[str, int]] = {}  # fan-out often repeats one view object
        for path, view in views.items():
            if id(view) not in hashed:
                payload = _payload(view)
                hashed[id(view)] = (
                    hashlib.blake2b(payload, digest_size=12).hexdigest(),
                    len(payload),
                )
            digests[path], size = hashed[id(view)]
            sizes[path] = size + len(path) + 64
            if size > _CHECK_SIZE_ABOVE:
                exact = sizes_module.document_size(path, view.to_firestore())
                if exact > sizes_module.DOCUMENT_BUDGET:
                    message = (
                        f"view {path} would be {exact:,} bytes, over Firestore's "
                        f"{sizes_module.MAX_DOCUMENT_BYTES:,}-byte document limit"
                    )
                    return self.held_back(state, BuildFailed(self.spec.name, state.key, message))
        changed = [p for p in views if state.views.get(p) != digests[p] or p in state.unsynced]
        gone = (state.views.keys() | state.unsynced) - digests.keys()
        return WritePlan(state, views, digests, sizes, sorted(changed) + sorted(gone))

    def write(
        self,
        attempt: Attempt,
        plan: WritePlan,
        operations: list[str] | None = None,
        rest: Iterable[str] = (),
        mark: str | None = None,
    ) -> tuple[int, int]:
        """Stage ``operations`` (default: all) and the record; returns (views written, deleted).

        ``rest`` are operations left to follow-up commits (``write_rest``); the record lists
        them as unsynced so any later rebuild rewrites them even if it wins the race. The
        record's ``problem`` and the error documents change in the same commit. ``mark`` (the
        event's, when this commit completes it) joins the record's ``applied`` list if the
        record is written anyway: a record that does not change is not written for it.
        """
        state = plan.state
        operations = plan.operations if operations is None else operations
        ref = self.record_ref(state.key)
        # A held-back plan writes no view: the views not yet synced stay unsynced.
        unsynced = sorted(set(rest) | (state.unsynced if plan.problem else set()))
        if not self.root_exists(state) and not unsynced:
            written, deleted = self._stage(attempt, plan, operations)
            if state.snapshot is not None:
                attempt.guarded_delete(ref, state.snapshot)
            self._stage_problems(attempt, state, None)
            return written, deleted
        problems = self._stage_problems(attempt, state, plan.problem)
        record = bookkeeping.record_entry(
            state.key,
            sources=state.sources,
            collections=sorted(state.collections),
            deps=self.dependencies(state),
            views=plan.digests,
            unsynced=unsynced,
            problems=problems,
        )
        fitted = self._fit(attempt, state, record)
        if fitted is None:  # too large even without its cache: nothing of it can be stored
            plan.problem = BuildFailed(
                self.spec.name,
                state.key,
                f"its record would be {sizes_module.document_size(ref.path, record):,} bytes "
                f"even without cached sources ({len(record['deps']):,} dependencies, "
                f"{len(plan.digests):,} views), over the "
                f"{sizes_module.DOCUMENT_BUDGET:,}-byte budget; its views are not updated",
            )
            self._stage_problems(attempt, state, plan.problem)
            plan.version = state.record.version
            return 0, 0
        written, deleted = self._stage(attempt, plan, operations)
        changes = bookkeeping.record_changes(state.stored, fitted)
        if changes:
            plan.version = uuid.uuid4().hex
            whole_or_changes = fitted if state.snapshot is None else changes
            if mark is not None:
                whole_or_changes["applied"] = bookkeeping.with_mark(state.stored, mark)
            stamp = bookkeeping.versioned(plan.version)
            attempt.guarded_update(ref, state.snapshot, {**whole_or_changes, **stamp})
        else:
            plan.version = state.record.version
        return written, deleted

    def root_exists(self, state: AggregateState) -> bool:
        return state.sources.get(self.root_path(state.key)) is not None

    def _fit(
        self, attempt: Attempt, state: AggregateState, record: dict[str, Any]
    ) -> dict[str, Any] | None:
        """``record`` if it fits in one document; else without its source cache (every event
        then rereads the whole aggregate: slower, still exact); ``None`` if even that is too big.

        Dropping and regaining the cache is reported once, as an error document with the sizes.
        """
        ref = self.record_ref(state.key)
        was_uncached = state.record.uncached
        if not was_uncached and sizes_module.surely_fits(record):
            return record  # the usual case: small, counted in C
        size = sizes_module.document_size(ref.path, record)
        error_id = bookkeeping.uncached_error_id(self.spec.name, state.key)
        error = bookkeeping.error_ref(self.client, error_id)
        if size <= sizes_module.DOCUMENT_BUDGET:
            if was_uncached:
                attempt.delete(error)
            return record
        lean = bookkeeping.uncached(record)
        if sizes_module.document_size(ref.path, lean) > sizes_module.DOCUMENT_BUDGET:
            return None
        if not was_uncached:
            entry = bookkeeping.uncached_entry(
                self.spec.name,
                state.key,
                record_bytes=size,
                budget_bytes=sizes_module.DOCUMENT_BUDGET,
                source_documents=len(state.sources),
                origin=self.origin,
            )
            attempt.set(error, entry)
            log.warning("boiler.record_uncached", view=self.spec.name, key=state.key, bytes=size)
        return lean

    def _stage_problems(
        self, attempt: Attempt, state: AggregateState, problem: BoilerError | None
    ) -> dict[str, dict[str, Any]]:
        """Record a new problem once; remove the error documents of the resolved ones.

        Returns the problems still outstanding (stored with the record): every one this
        aggregate recorded, until it sees it resolved, not only the latest.
        """
        problems = dict(state.record.problems)
        new = bookkeeping.problem_of(self.spec.name, state.key, problem) if problem else None
        if problem is not None and new is not None and problems.get(new["id"]) != new:
            ref = bookkeeping.error_ref(self.client, new["id"])
            # One invalid document shared by the aggregates of one commit: one write for all.
            if ref.path not in attempt.written:
                entry = bookkeeping.error_entry(self.spec.name, state.key, problem, self.origin)
                attempt.set(ref, entry)
            problems[new["id"]] = new
        for error_id, stored in list(problems.items()):
            if new is not None and error_id == new["id"]:
                continue
            held, ours = self._still_invalid(attempt, state, stored)
            if not held:
                ref = bookkeeping.error_ref(self.client, error_id)
                if ref.path not in attempt.written:
                    attempt.delete(ref)
            if not held or not ours:
                del problems[error_id]
        return problems

    def _still_invalid(
        self, attempt: Attempt, state: AggregateState, stored: dict[str, Any]
    ) -> tuple[bool, bool]:
        """(is the recorded problem still there, is it still this aggregate's to track).

        A build failure is gone once the aggregate builds; an invalid document once it
        validates or is deleted, or (its root and children) once the root is deleted. One no
        longer among the sources (a participant removed) is read once more, then left to the
        aggregates that still use it.
        """
        path = stored.get("path")
        if stored.get("kind") != "invalid-document" or not isinstance(path, str):
            return False, True
        root = self.root_path(state.key)
        if not self.root_exists(state) and (path == root or path.startswith(root + "/")):
            return False, False  # the root and its children belong to this aggregate alone
        ours = path in state.sources
        if ours:
            raw = state.sources[path]
        else:
            (snapshot,) = attempt.get_all([self.client.document(path)])
            raw = snapshot.to_dict() if snapshot.exists else None
        if raw is None:
            return False, ours
        try:
            if path == self.root_path(state.key):
                self._root_model(state)
            for template, model in self._models:
                if template.match(path) is not None:
                    model.from_firestore(path, raw)
        except InvalidDocument:
            return True, ours
        return False, ours

    def write_chunk(
        self, attempt: Attempt, plan: WritePlan, chunk: list[str], rest: list[str]
    ) -> tuple[int, int] | None:
        """A follow-up commit of a chunked rebuild; ``None`` if a newer rebuild took over."""
        ref = self.record_ref(plan.state.key)
        (snapshot,) = attempt.get_all([ref])
        if bookkeeping.version_of(snapshot) != plan.version:
            return None  # a newer rebuild owns the views now (and rewrites what we left unsynced)
        written, deleted = self._stage(attempt, plan, chunk)
        if not rest and not self.root_exists(plan.state):
            attempt.guarded_delete(ref, snapshot)  # the tombstone's last deletes are done
        else:
            attempt.guarded_update(ref, snapshot, bookkeeping.unsynced_update(rest))
        return written, deleted

    def _stage(
        self, attempt: Attempt, plan: WritePlan, operations: Iterable[str]
    ) -> tuple[int, int]:
        deleted = 0
        copies: dict[int, tuple[ViewModel, list[firestore.DocumentReference]]] = {}
        for path in operations:
            view = plan.views.get(path)
            if view is not None:  # one content at many paths (a fan-out): encoded once
                copies.setdefault(id(view), (view, []))[1].append(self.client.document(path))
            else:
                attempt.delete(self.client.document(path))
                deleted += 1
        for view, refs in copies.values():
            attempt.set_all(refs, view.to_firestore())
        return sum(len(refs) for _, refs in copies.values()), deleted
