"""Aggregate views (``Count``/``Sum``/``Avg``/``Min``/``Max``/``Top`` over a ``Query``) kept
from each change, with reads and writes bounded by the views changed, never by the members.

Per view model, under ``_boilerAggregates/{view}/``:

- ``_boilerTallies/{key}``: the state of one aggregate (runtime/tally_state.py): the root's
  fields, one tally per aggregate source, and a digest of every view written.
- ``_boilerMembers/{id}``: one membership entry per (key, member document) that contributes
  something: ``owner`` ("{group}|{key}"), ``member`` ("{group}|{path}"), and the
  contribution. Each is small: nothing boiler keeps grows with the number of members.

An event on a member document reads that document and its membership entries (the keys it
counted in before), relates its current state to keys (the keys it counts in now), and for
every key in either set moves the tallies by the difference, in one commit guarded by each
state's version and by the member document's own (``Attempt.verify``). Everything is derived
from current state, so a duplicated, stale or reordered event recomputes the same thing and
writes nothing. An event settled by one commit leaves its mark in the states it writes (a
redelivery finding it stops as a duplicate); one of several commits, a ledger entry. A root
event refreshes the state's copy of the root and rebuilds the views from the tallies alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from ..aggregates import CLIENT_OPS, AggregateSpec, Query, TopSpec
from ..documents import Document, DomainModel
from ..errors import BoilerError, BuildFailed, InvalidDocument
from ..views import ViewModel
from . import bookkeeping, sizes
from .attempt import Attempt
from .client import documents_of
from .tally_state import Entry, Overlay, entry_of, fresh_tallies, merged_refill, move, same_entry
from .tally_state import values as tally_values

TALLIES = "_boilerTallies"
MEMBERS = "_boilerMembers"
# A state's notes of why its views are held back: the error document is written when one changes.
PROBLEM_FIELDS = ("rootProblem", "problem")
KEYS_PER_COMMIT = 100  # keys one member event updates per commit (3 writes each at most)
MEMBERS_PER_REBUILD_COMMIT = 100  # members a rebuild brings in step per commit


def is_tally_view(view: type[ViewModel]) -> bool:
    """Whether ``view`` is built from aggregates (this module) rather than a record."""
    return bool(view.spec().sources.__aggregates__)


def tallies_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return client.collection(bookkeeping.AGGREGATES, view, TALLIES)


def members_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return client.collection(bookkeeping.AGGREGATES, view, MEMBERS)


def member_id(group: str, key: str, path: str) -> str:
    return hashlib.sha1(f"{group}|{key}|{path}".encode()).hexdigest()


def invalid_flag_id(group: str, path: str) -> str:
    return hashlib.sha1(f"{group}|invalid|{path}".encode()).hexdigest()


@dataclass
class TallyResult:
    """What one commit did."""

    keys: list[str] = field(default_factory=list)
    written: int = 0
    deleted: int = 0
    problems: list[BoilerError] = field(default_factory=list)
    complete: bool = True  # every affected key was handled (else more commits follow)
    affected: list[str] = field(default_factory=list)  # a member event's keys, all batches
    handled: list[str] = field(default_factory=list)  # the keys this commit settled
    duplicate: bool = False  # a state carries the event's mark: another delivery applied it


@dataclass
class _KeyWork:
    """The membership changes one commit applies to one key."""

    changes: list[tuple[str, str, Mapping[str, Any] | None, Entry | None]] = field(
        default_factory=list
    )  # (group, member path, old entry, new entry)


class TallyBuilder:
    """Reads, moves and writes the aggregates of one aggregate view model."""

    def __init__(
        self, view: type[ViewModel], client: firestore.Client, origin: Mapping[str, Any]
    ) -> None:
        self.view = view
        self.spec = view.spec()
        self.client = client
        self.origin = dict(origin)
        sources = self.spec.sources
        self.root = sources.__root__
        self.aggregates: dict[str, AggregateSpec] = dict(sources.__aggregates__)
        self.groups: dict[str, list[AggregateSpec]] = {}
        self.queries: dict[str, Query] = {}
        for spec in self.aggregates.values():
            self.groups.setdefault(spec.query.group, []).append(spec)
            self.queries.setdefault(spec.query.group, spec.query)
        self.tallies = tallies_of(client, self.spec.name)
        self.members = members_of(client, self.spec.name)

    # -- paths and refs -------------------------------------------------------------------
    def groups_over(self, model: type[Document]) -> list[str]:
        return [group for group, query in self.queries.items() if query.model is model]

    def root_key(self, path: str) -> str | None:
        if self.root is None:
            return None
        values = self.root.template.match(path)
        return None if values is None else values[self.spec.key_wildcard]

    def member_ref(self, group: str, key: str, path: str) -> firestore.DocumentReference:
        return self.members.document(member_id(group, key, path))

    # -- a member document changed --------------------------------------------------------
    def apply_member(
        self,
        attempt: Attempt,
        model: type[Document],
        path: str,
        done: set[str],
        known: list[str] | None = None,
        mark: str | None = None,
    ) -> TallyResult:
        """Move every aggregate ``path`` counted in before or counts in now (up to
        KEYS_PER_COMMIT keys not in ``done``); verify ``path`` is unchanged at commit.
        ``mark``: the event's, checked and left in the states when this one commit settles
        every key (``commit_keys``).

        The first commit finds the keys with one query of the member's entries and returns
        them all (``result.affected``); the next ones pass them as ``known`` and read only
        their own keys' entries, by id: a member in 2,000 aggregates costs each commit its
        batch, not the 2,000 entries again.
        """
        ref = self.client.document(path)
        groups = self.groups_over(model)
        batch: list[str] | None = None
        if known is None:
            (snapshot,) = attempt.get_all([ref])
            stored = attempt.query(
                self.members.where(
                    filter=FieldFilter("member", "in", [f"{group}|{path}" for group in groups])
                )
            )
        else:
            batch = [key for key in known if key not in done][:KEYS_PER_COMMIT]
            refs = [ref, *(self.members.document(invalid_flag_id(g, path)) for g in groups)]
            refs += [self.member_ref(group, key, path) for group in groups for key in batch]
            read = {snap.reference.path: snap for snap in attempt.get_all(refs)}
            snapshot = read.pop(ref.path)
            stored = [snap for snap in read.values() if snap.exists]
        member, problem = _parse(model, path, snapshot)
        result = TallyResult()
        work: dict[str, _KeyWork] = {}
        flags: dict[str, firestore.DocumentSnapshot] = {}
        entries = [(entry, entry.to_dict() or {}) for entry in stored]
        for entry, data in entries:
            if data.get("invalid"):
                flags[data["member"].split("|", 1)[0]] = entry
        for group in groups:
            specs, query = self.groups[group], self.queries[group]
            old = {
                data["owner"].split("|", 1)[1]: data
                for _, data in entries
                if not data.get("invalid") and data["member"] == f"{group}|{path}"
            }
            if problem is not None:
                continue  # its contributions stay as they were until it is valid again
            new_keys = query.keys_of(member) if member is not None else []
            keys = set(old) | set(new_keys)
            if batch is not None:
                keys &= set(batch)  # only these keys' entries were read
            for key in sorted(keys):
                new = (
                    entry_of(specs, member, path)
                    if member is not None and key in new_keys
                    else None
                )
                if same_entry(old.get(key), new):
                    continue
                work.setdefault(key, _KeyWork()).changes.append((group, path, old.get(key), new))
        pending = [key for key in sorted(work) if key not in done]
        this = pending[:KEYS_PER_COMMIT]
        # The keys with something to do (later commits read only theirs); with ``known``,
        # this commit settles its whole batch.
        result.affected = pending if known is None else list(known)
        result.handled = list(this if batch is None else batch)
        left = [key for key in result.affected if key not in done and key not in result.handled]
        result.complete = not left
        single = known is None and result.complete
        self.commit_keys(
            attempt, {key: work[key] for key in this}, result, mark=mark if single else None
        )
        if result.duplicate:
            return result
        self._track_invalid(attempt, groups, path, problem, flags, result)
        if attempt.writes:  # what was written relied on this version of the member
            attempt.verify(ref, snapshot)
        return result

    def _track_invalid(
        self,
        attempt: Attempt,
        groups: list[str],
        path: str,
        problem: InvalidDocument | None,
        flags: Mapping[str, firestore.DocumentSnapshot],
        result: TallyResult,
    ) -> None:
        """An invalid member is reported once (``_boilerErrors``) and forgotten when fixed."""
        if problem is not None:
            result.problems.append(problem)
            new_flags = [group for group in groups if group not in flags]
            for group in new_flags:
                flag = self.members.document(invalid_flag_id(group, path))
                attempt.set(flag, {"member": f"{group}|{path}", "invalid": True})
            if new_flags:
                self.report(attempt, problem)
        elif flags:
            for snapshot in flags.values():
                attempt.delete(snapshot.reference)
            self._withdraw(attempt, path)

    # -- the root document changed --------------------------------------------------------
    def apply_root(self, attempt: Attempt, path: str, mark: str | None = None) -> TallyResult:
        key = self.root_key(path)
        assert key is not None
        ref = self.client.document(path)
        (snapshot,) = attempt.get_all([ref])
        result = TallyResult()
        self.commit_keys(attempt, {key: _KeyWork()}, result, root=(path, snapshot), mark=mark)
        if attempt.writes:
            attempt.verify(ref, snapshot)
        return result

    # -- rebuild from scratch (reconcile, migrations) ---------------------------------------
    def member_paths(self, key: str) -> list[str]:
        """Every member document related to ``key`` now, or counted in it: a full scan of the
        related documents (rebuilds only, never on an event)."""
        paths: set[str] = set()
        for group, query in self.queries.items():
            relation = query.relation
            assert relation is not None
            model = query.model
            alias = model.model_fields[relation.field].alias or relation.field
            template = query.template
            source = documents_of(self.client, template)
            op = CLIENT_OPS.get(relation.op, relation.op)
            found = source.where(filter=FieldFilter(alias, op, key)).stream()
            paths.update(s.reference.path for s in found if template.match(s.reference.path))
            counted = self.members.where(filter=FieldFilter("owner", "==", f"{group}|{key}"))
            paths.update((s.to_dict() or {})["member"].split("|", 1)[1] for s in counted.stream())
        return sorted(paths)

    def model_of(self, path: str) -> type[Document] | None:
        for query in self.queries.values():
            if query.template.match(path) is not None:
                return query.model
        return None

    # -- one commit for some keys ----------------------------------------------------------
    def commit_keys(
        self,
        attempt: Attempt,
        work: Mapping[str, _KeyWork],
        result: TallyResult,
        root: tuple[str, firestore.DocumentSnapshot] | None = None,
        actual_views: Mapping[str, str] | None = None,
        mark: str | None = None,
    ) -> None:
        """Stage the moves of ``work`` and the views that follow; ``root`` refreshes the
        state's copy of the root; ``actual_views`` (reconcile) replaces the digests of the
        views written before by those of the stored documents, so drift is repaired.

        ``mark`` (a single-commit event's): a state carrying it means a delivery of the event
        committed already (``result.duplicate``, nothing staged); else every state written
        carries it (its ``applied`` list, as records keep theirs)."""
        refs = [self.tallies.document(key) for key in work]
        states = {snap.reference.id: snap for snap in attempt.get_all(refs)}
        if mark is not None and any(
            mark in ((snap.to_dict() or {}).get("applied") or []) for snap in states.values()
        ):
            result.duplicate = True
            return
        for key, key_work in work.items():
            state = states[key]
            stored = state.to_dict() if state.exists else None
            tallies = fresh_tallies(stored)
            members = int((stored or {}).get("m", 0))  # membership entries of this key
            overlay: dict[str, Overlay] = {}
            entries: list[tuple[firestore.DocumentReference, dict[str, Any] | None]] = []
            for group, path, old, new in key_work.changes:
                overlay.setdefault(group, Overlay()).changed[path] = new
                move(
                    tallies,
                    self.groups[group],
                    path,
                    old,
                    new,
                    refill=self._refill(attempt, group, key, overlay[group]),
                )
                members += (new is not None) - (old is not None)
                owned = {"owner": f"{group}|{key}", "member": f"{group}|{path}"}
                entries.append(
                    (self.member_ref(group, key, path), None if new is None else {**owned, **new})
                )
            record = dict(stored or {})
            record.pop("problem", None)  # set again below if this commit cannot build either
            record["t"] = tallies
            record["m"] = members
            if any(self._ranked(group) for group, *_ in key_work.changes):
                # A ranked list refills from the entries: a commit that changes one must
                # change the state too, so a refill that read the old entry cannot commit.
                record["v"] = int(record.get("v", 0)) + 1
            if actual_views is not None:
                record["views"] = dict(actual_views)
            noted = len(result.problems)  # this key's problems follow
            if root is not None:
                self._refresh_root(record, root[0], root[1], key, result)
            size = sizes.document_size(state.reference.path, record)
            if size > sizes.DOCUMENT_BUDGET:
                # Held back: nothing of this key is written (its entries and state stay in
                # step with each other); the change reaches it with the member's next one.
                message = (
                    f"its aggregate state would be {size:,} bytes, over the "
                    f"{sizes.DOCUMENT_BUDGET:,}-byte budget; the change is held back. Declare "
                    "Top(..., fields=[...]) to keep only the fields the view shows, or a smaller "
                    "limit, then run `python -m boiler reconcile` (the held-back change also "
                    "lands with the member's next change)"
                )
                result.problems.append(
                    BuildFailed(self.spec.name, key, message, code="aggregate-state-too-large")
                )
                # Only a note of it, so the commit that fits withdraws the error document;
                # noted already, nothing is written again.
                if (stored or {}).get("problem") != self._error_id(key):
                    attempt.guarded_update(state.reference, state, {"problem": self._error_id(key)})
                    self.report(attempt, result.problems[-1])
                continue
            for ref, entry in entries:
                if entry is None:
                    attempt.delete(ref)
                else:
                    attempt.set(ref, entry)
            if root is not None and "rootProblem" in (stored or {}) and "rootProblem" not in record:
                self._withdraw(attempt, root[0])
            self._write_views(attempt, key, record, result)
            if any((stored or {}).get(name) != record.get(name) for name in PROBLEM_FIELDS):
                for problem in result.problems[noted:]:  # reported once, when first noted
                    self.report(attempt, problem)
            if "problem" in (stored or {}) and "problem" not in record:
                attempt.delete(bookkeeping.error_ref(self.client, self._error_id(key)))
            if record != (stored or {}):
                # An update keeps fields it does not name: delete the ones dropped (root, ...).
                dropped = {
                    name: firestore.DELETE_FIELD for name in stored or {} if name not in record
                }
                if mark is not None:
                    record["applied"] = bookkeeping.with_mark(stored, mark)
                attempt.guarded_update(state.reference, state, {**record, **dropped})
                result.keys.append(key)

    def _error_id(self, key: str) -> str:
        """The ``_boilerErrors`` id of a key's build failure (as ``report`` writes it)."""
        return str(bookkeeping.problem_of(self.spec.name, key, BuildFailed("", key, ""))["id"])

    def _ranked(self, group: str) -> bool:
        return any(isinstance(spec, TopSpec) for spec in self.groups[group])

    def _withdraw(self, attempt: Attempt, path: str) -> None:
        """The error document of a document that is valid (or gone) again."""
        error = bookkeeping.problem_of(self.spec.name, "", InvalidDocument(path, []))
        attempt.delete(bookkeeping.error_ref(self.client, error["id"]))

    def report(self, attempt: Attempt, problem: BoilerError) -> None:
        """One ``_boilerErrors`` document per problem, written when the state first notes it."""
        key = problem.key if isinstance(problem, BuildFailed) else ""
        entry = bookkeeping.error_entry(self.spec.name, key, problem, self.origin)
        attempt.set(bookkeeping.error_ref(self.client, entry["id"]), entry)

    def _refill(self, attempt: Attempt, group: str, key: str, overlay: Overlay) -> Any:
        def refill(spec: TopSpec, limit: int) -> list[dict[str, Any]]:
            ranked = (
                self.members.where(filter=FieldFilter("owner", "==", f"{group}|{key}"))
                .order_by(f"k.{spec.name}")
                .limit(limit + len(overlay.changed))
            )
            stored = [
                {
                    "p": data["member"].split("|", 1)[1],
                    "k": data["k"][spec.name],
                    "f": data.get("f", {}).get(spec.name),
                }
                for snapshot in attempt.query(ranked)
                if (data := snapshot.to_dict() or {})
            ]
            return merged_refill(stored, overlay, spec, limit)

        return refill

    def _refresh_root(
        self,
        record: dict[str, Any],
        path: str,
        snapshot: firestore.DocumentSnapshot,
        key: str,
        result: TallyResult,
    ) -> None:
        assert self.root is not None
        model = self.root.model
        if not snapshot.exists:
            record.pop("root", None)
            record.pop("rootProblem", None)
            return
        raw = snapshot.to_dict() or {}
        try:
            model.from_firestore(path, raw)
        except InvalidDocument as problem:
            result.problems.append(problem)
            record["rootProblem"] = str(problem)
            return  # the views stay as they were built from the last valid root (reported)
        record.pop("rootProblem", None)
        record["root"] = model.declared_fields(raw) if issubclass(model, DomainModel) else raw

    def _write_views(
        self, attempt: Attempt, key: str, record: dict[str, Any], result: TallyResult
    ) -> None:
        """The views from the root's copy and the tallies; only those that changed are written."""
        written: dict[str, str] = dict(record.get("views", {}))
        if "rootProblem" in record:
            return
        root_raw = record.get("root")
        # A view exists while its root does; grouped by its query (no Root), while any member
        # contributes to it.
        exists = root_raw is not None if self.root is not None else record.get("m", 0) > 0
        try:
            views = self._build(key, root_raw, record["t"]) if exists else {}
        except Exception as error:  # a bug in build(): recorded, the tallies still move
            result.problems.append(BuildFailed(self.spec.name, key, f"build() raised {error!r}"))
            record["problem"] = self._error_id(key)
            return
        documents = {path: view.to_firestore() for path, view in views.items()}
        for path, fields in documents.items():
            if (
                not sizes.surely_fits(fields)
                and (size := sizes.document_size(path, fields)) > sizes.DOCUMENT_BUDGET
            ):
                # Firestore would refuse the commit: hold the views back, as build() raising.
                message = f"view {path} would be {size:,} bytes, over the 1 MiB document limit"
                result.problems.append(BuildFailed(self.spec.name, key, message))
                record["problem"] = self._error_id(key)
                return
        digests = {path: _digest(view) for path, view in views.items()}
        for path, digest in digests.items():
            if written.get(path) != digest:
                attempt.set(self.client.document(path), documents[path])
                result.written += 1
        for path in set(written) - set(digests):
            attempt.delete(self.client.document(path))
            result.deleted += 1
        record["views"] = digests

    def _build(
        self, key: str, root_raw: Mapping[str, Any] | None, tallies: Mapping[str, Any]
    ) -> dict[str, ViewModel]:
        loaded = tally_values(list(self.aggregates.values()), tallies)
        if self.root is not None and root_raw is not None:
            root_path = self.root.template.format(**{self.spec.key_wildcard: key})
            loaded[self.root.name] = self.root.model.from_firestore(root_path, root_raw)
        data = self.spec.sources(key, **loaded)
        return self.view.build_paths(data)


def _parse(
    model: type[Document], path: str, snapshot: firestore.DocumentSnapshot
) -> tuple[Document | None, InvalidDocument | None]:
    if not snapshot.exists:
        return None, None
    try:
        return model.from_firestore(path, snapshot.to_dict() or {}), None
    except InvalidDocument as problem:
        return None, problem


def _digest(view: ViewModel) -> str:
    payload = json.dumps(
        view.model_dump(by_alias=True, mode="json"), sort_keys=True, separators=(",", ":")
    ).encode()
    return hashlib.blake2b(payload, digest_size=12).hexdigest()


def apply_members(
    builder: TallyBuilder,
    attempt: Attempt,
    key: str,
    paths: Iterable[str],
    check_views: Iterable[str] | None = None,
) -> TallyResult:
    """Rebuild: bring ``key``'s tallies in step with each of ``paths`` (one commit); with
    ``check_views`` (stored view paths), also repair views that differ or should not exist."""
    paths = list(paths)
    refs = [builder.client.document(path) for path in paths]
    snapshots = {snap.reference.path: snap for snap in attempt.get_all(refs)}
    markers = [builder.member_ref(group, key, path) for path in paths for group in builder.queries]
    stored = {snap.reference.id: snap for snap in attempt.get_all(markers)}
    work = _KeyWork()
    for path in paths:
        model = builder.model_of(path)
        if model is None:
            continue
        member, problem = _parse(model, path, snapshots[path])
        if problem is not None:
            continue
        for group in builder.groups_over(model):
            marker = stored.get(member_id(group, key, path))
            old = marker.to_dict() if marker is not None and marker.exists else None
            query = builder.queries[group]
            related = member is not None and key in query.keys_of(member)
            new = entry_of(builder.groups[group], member, path) if related and member else None
            if not same_entry(old, new):
                work.changes.append((group, path, old, new))
    result = TallyResult()
    root = None
    if builder.root is not None:
        root_path = builder.root.template.format(**{builder.spec.key_wildcard: key})
        (snapshot,) = attempt.get_all([builder.client.document(root_path)])
        root = (root_path, snapshot)
    actual = None
    if check_views is not None:
        state = builder.tallies.document(key)
        (recorded,) = attempt.get_all([state])
        candidates = set(check_views) | set((recorded.to_dict() or {}).get("views", {}))
        refs = [builder.client.document(path) for path in sorted(candidates)]
        actual = {
            snap.reference.path: _stored_digest(builder.view, snap)
            for snap in attempt.get_all(refs)
            if snap.exists
        }
    builder.commit_keys(attempt, {key: work}, result, root=root, actual_views=actual)
    if attempt.writes:
        read = [*snapshots.values(), *([root[1]] if root else [])]
        for snapshot in read:
            attempt.verify(snapshot.reference, snapshot)
    return result


def _stored_digest(view: type[ViewModel], snapshot: firestore.DocumentSnapshot) -> str:
    """The digest of a stored view as written by boiler; "drifted" if it is not a valid view."""
    try:
        return _digest(view.from_firestore(snapshot.reference.path, snapshot.to_dict() or {}))
    except BoilerError:
        return "drifted"
