"""Rebuilding aggregate views from scratch: reconcile (and migrations) for runtime/tallies.py.

For each key, every member document related to it now or counted in it is brought in step,
REBUILD_BATCH members per guarded commit, by the same state-based step an event runs; so a
rebuild races live triggers safely and a second run finds nothing to do. The first commit of
each key also compares the stored view documents with what the tallies give and rewrites the
drifted ones and deletes orphans. Reading every member makes a rebuild linear in the data:
it is the repair and backfill path, never an event's::

    report = rebuild_tallies(Agenda, client)          # a ReconcileReport
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.cloud import firestore

from ..errors import BoilerError, BuildFailed
from ..views import ViewModel
from . import log
from .attempt import Attempt
from .client import documents_of
from .reconcile import ReconcileReport, _failed, existing_views
from .retry import committed
from .tallies import MEMBERS_PER_REBUILD_COMMIT, TallyBuilder, TallyResult, apply_members


def tally_keys(builder: TallyBuilder, stored_views: Iterable[str]) -> list[str]:
    """Every key with a root, a state, a stored view, a related member or a counted member."""
    client = builder.client
    keys = set(stored_views)
    if builder.root is not None:
        root = builder.root.template
        keys.update(ref.id for ref in client.collection(root.collection).list_documents())
    keys.update(ref.id for ref in builder.tallies.list_documents())
    for snapshot in builder.members.select(["owner"]).stream():
        owner = (snapshot.to_dict() or {}).get("owner")
        if owner:
            keys.add(owner.split("|", 1)[1])
    for query in builder.queries.values():
        template = query.template
        source = documents_of(client, template)
        for snapshot in source.stream():
            if template.match(snapshot.reference.path) is None:
                continue
            try:
                member = query.model.from_firestore(
                    snapshot.reference.path, snapshot.to_dict() or {}
                )
            except BoilerError:
                continue  # an invalid member counts nowhere until it is fixed
            keys.update(query.keys_of(member))
    return sorted(keys)


def rebuild_tallies(
    view: type[ViewModel],
    client: firestore.Client,
    keys: Iterable[str] | None = None,
    *,
    stored: Mapping[str, set[str]] | None = None,
) -> ReconcileReport:
    """Bring every aggregate of ``view`` (or only ``keys``) in step with the domain;
    ``stored`` as ``reconcile``'s."""
    builder = TallyBuilder(view, client, origin={"function": "reconcile"})
    report = ReconcileReport(builder.spec.name)
    if stored is None:
        stored = existing_views(view, client)
    for key in keys if keys is not None else tally_keys(builder, stored):
        report.aggregates += 1
        try:
            _rebuild_one(builder, key, stored.get(key, set()), report)
        except Exception as error:  # one aggregate that cannot be rebuilt must not stop the rest
            _failed(report, key, error)
    log.info("boiler.reconciled", **report.as_dict())
    return report


def _rebuild_one(builder: TallyBuilder, key: str, found: set[str], report: ReconcileReport) -> None:
    paths = builder.member_paths(key)
    batches = [
        paths[start : start + MEMBERS_PER_REBUILD_COMMIT]
        for start in range(0, len(paths), MEMBERS_PER_REBUILD_COMMIT)
    ] or [[]]
    name = f"reconcile {builder.spec.name}/{key}"
    for number, batch in enumerate(batches):
        check = found if number == 0 else None

        def step(
            attempt: Attempt, batch: list[str] = batch, check: set[str] | None = check
        ) -> TallyResult:
            return apply_members(builder, attempt, key, batch, check_views=check)

        result = committed(builder.client, step, name=name)
        report.stale += result.written
        report.orphans += result.deleted
        report.records_refreshed += int(bool(result.keys))
        for problem in result.problems:  # as for record views: a raising build() failed
            if isinstance(problem, BuildFailed):
                report.failures.append({"key": key, "error": f"{problem.code}: {problem}"})
            else:
                report.invalid.append(str(problem))
        if check is not None:
            report.views_checked += len(check)
