"""The chaos harness's checks: what a perfect pipeline would have left, independent of its records.

Views are compared with ``boiler.testing.oracle`` (``build()`` on documents read fresh,
meaningful once every source is valid); the other checks read boiler's bookkeeping and the
command documents directly::

    problems = check_views(build, client) + check_commands(client, commands, commits)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from boiler.commands import APPLIED, REJECTED, SUPERSEDED, SUPERSEDED_BY
from boiler.compiler import Build
from boiler.errors import InvalidDocument
from boiler.runtime import bookkeeping
from boiler.runtime.reconcile import reconcile
from boiler.testing.oracle import expected_views, first_divergence, stored_views
from google.cloud import firestore

from .chaos_workload import CommandDoc

FINAL = (APPLIED, REJECTED, SUPERSEDED)  # a command with any other status is still waiting


def check_valid_aggregates(
    build: Build, client: firestore.Client, problem: Callable[[str, dict[str, Any]], str | None]
) -> tuple[list[str], int, int]:
    """At a quiet point before the heal: every aggregate whose sources are all valid is exact,
    so an invalid document never held back another aggregate, and a document fixed by a
    later write brought its aggregate back. Returns (problems, aggregates compared, held)."""

    def strict(path: str, data: dict[str, Any]) -> None:
        reason = problem(path, data)
        if reason is not None:
            raise InvalidDocument(path, [("<document>", reason)])

    problems, compared, held_count = [], 0, 0
    for view in build.app.views:
        spec = view.spec()
        held: set[str] = set()
        expected = expected_views(view, client, check=strict, held=held)
        keys = {(spec.template.match(path) or {}).get(spec.key_wildcard) for path in expected}
        compared += len(keys - held)
        held_count += len(held)
        stored = {
            path: data
            for path, data in stored_views(view, client).items()
            if (spec.template.match(path) or {}).get(spec.key_wildcard) not in held
        }
        divergence = first_divergence(expected, stored)
        if divergence is not None:
            problems.append(f"an aggregate with valid sources diverges: {divergence}")
    return problems, compared, held_count


def check_views(build: Build, client: firestore.Client) -> tuple[list[str], int]:
    """Every stored view equals the rebuild; returns (problems, number of views expected)."""
    problems, count = [], 0
    for view in build.app.views:
        try:
            expected = expected_views(view, client)
        except InvalidDocument as error:  # the heal phase should have left none
            problems.append(f"a source is still invalid, the oracle cannot build: {error}")
            continue
        count += len(expected)
        divergence = first_divergence(expected, stored_views(view, client))
        if divergence is not None:
            problems.append(f"first diverging view {divergence}")
    return problems, count


def check_reconcile(build: Build, client: firestore.Client) -> tuple[list[str], int]:
    """Reconcile after the drain finds nothing to repair; returns (problems, records it had to
    refresh: a record out of step with its sources misleads the events that come later)."""
    problems, refreshed = [], 0
    for view in build.app.views:
        report = reconcile(view, client)
        if report.repaired or report.failures or report.invalid:
            problems.append(f"reconcile after the drain: {report.as_dict()}")
        refreshed += report.records_refreshed
    return problems, refreshed


def check_pending(client: firestore.Client) -> list[str]:
    left = [snap.id for snap in client.collection(bookkeeping.PENDING).stream()]
    return [f"{len(left)} pending entries left, e.g. {left[0]}"] if left else []


def check_finished(
    build: Build, finished: set[tuple[str, str]], events: Iterable[tuple[str, str]]
) -> list[str]:
    """Every view event delivered ended in a delivery that returned (the ones that died were
    delivered again, as platform retries do): none was left to chance."""
    views = {trigger.name for trigger in build.triggers}
    left = sorted({(name, event_id) for name, event_id in events if name in views} - finished)
    return [f"{len(left)} view events no delivery finished, e.g. {left[0]}"] if left else []


def stale_errors(
    client: firestore.Client, problem: Callable[[str, dict[str, Any]], str | None]
) -> list[str]:
    """Invalid-document errors whose document is valid again (or gone): resolved, still listed."""
    stale = []
    for snapshot in client.collection(bookkeeping.ERRORS).stream():
        entry = snapshot.to_dict() or {}
        path = entry.get("sourcePath")
        if entry.get("kind") != "invalid-document" or not isinstance(path, str):
            continue
        source = client.document(path).get()
        if not source.exists or problem(path, source.to_dict() or {}) is None:
            stale.append(snapshot.id)
    return stale


def command_statuses(
    client: firestore.Client, commands: Mapping[str, CommandDoc]
) -> dict[str, firestore.DocumentSnapshot]:
    refs = [client.document(path) for path in commands]
    return {snap.reference.path: snap for snap in client.get_all(refs)}


def check_commands(
    client: firestore.Client,
    commands: Mapping[str, CommandDoc],
    commits: Mapping[str, int],
    withdrawn: Collection[str] = (),
    committed: Mapping[str, str] | None = None,
) -> tuple[list[str], Counter[str]]:
    """Each command has a final status, set by exactly one commit; superseded ones name a
    newer applied command of the same target; a withdrawn (deleted) one, at most one commit.
    ``commits``: status commits per event id; ``committed``: the status each one set."""
    committed = committed or {}
    snapshots = command_statuses(client, commands)
    by_id = {path.rsplit("/", 1)[1]: command for path, command in commands.items()}
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    for path, command in sorted(commands.items()):
        snapshot = snapshots[path]
        count = commits.get(command.event_id, 0)
        if path in withdrawn and not snapshot.exists:
            statuses["withdrawn"] += 1
            if count > 1:
                problems.append(f"{path} (withdrawn): {count} commits set its status")
            continue
        data = snapshot.to_dict() or {}
        status = str(data.get("status"))
        statuses[status] += 1
        if status not in FINAL:
            problems.append(f"{path}: no final status ({status}), {data}")
        if count != 1:
            problems.append(f"{path}: {count} commits set its status ({status}); exactly once is 1")
        if status == SUPERSEDED:
            newer = by_id.get(str(data.get(SUPERSEDED_BY)))
            problem = _superseding_problem(
                command, snapshot, newer, snapshots, withdrawn, committed
            )
            if problem is not None:
                problems.append(f"{path}: superseded, but {problem}")
    return problems, statuses


def _superseding_problem(
    command: CommandDoc,
    snapshot: firestore.DocumentSnapshot,
    newer: CommandDoc | None,
    snapshots: Mapping[str, firestore.DocumentSnapshot],
    withdrawn: Collection[str],
    committed: Mapping[str, str],
) -> str | None:
    if newer is None:
        return f"{SUPERSEDED_BY}={snapshot.get(SUPERSEDED_BY)!r} names no command"
    other = snapshots[newer.path]
    if newer.target != command.target:
        return f"{newer.path} has another target ({newer.target}, not {command.target})"
    if not other.exists and newer.path in withdrawn:
        # Deleted by its client since: what its commit set, and the workload's creation order
        # (request ids are numbered as created, one after the other).
        if committed.get(newer.event_id) != APPLIED:
            return f"{newer.path} (withdrawn) was not applied ({committed.get(newer.event_id)})"
        if newer.path.rsplit("/", 1)[1] <= command.path.rsplit("/", 1)[1]:
            return f"{newer.path} (withdrawn) was not created later"
        return None
    if (other.to_dict() or {}).get("status") != APPLIED:
        return f"{newer.path} is not applied ({other.get('status')})"
    # Creation order, ties broken by document id (command_order.py's rule, restated).
    if not (other.create_time, other.id) > (snapshot.create_time, snapshot.id):
        return f"{newer.path} was not created later"
    return None
