"""A rebuild sharded over the ``boilerRebuild`` task-queue function, for more keys than one
machine should walk: Cloud Tasks spreads the shards over function instances.

The caller (``boiler rebuild --distributed``) lists the view's keys and stored documents once,
splits them into shards, records each shard, enqueues one task per shard and waits::

    run = plan(MeetingCard, client)              # shards recorded (or an unfinished run found)
    enqueue(run)                                 # one task per shard not done yet
    report = wait(client, run, timeout=3600)     # counts summed from the shards' outcomes

Progress lives beside the local rebuild's (runtime/rebuild.py): ``_boilerRebuilds/{View}``
holds ``run``, ``mode: "distributed"``, ``shards``, ``total``; each shard's plan is
``_boilerRebuilds/{View}/_boilerShards/{index}`` with ``run``, ``keys``, ``paths`` (the stored
view documents of those keys, so no task lists the whole view again; ``None`` when they would
not fit in the document). A task reconciles its keys (state-based, so a duplicate delivery or
a live trigger beside it is harmless) and records its outcome apart, in a small document
``_boilerRebuilds/{View}/_boilerShardOutcomes/{index}`` (``run``, ``state``: ``done``, or
``failed`` with ``failures``; ``counts``), so the waiting command listens to small documents
only: each outcome is read once, when it is written. A task that raises is retried by Cloud
Tasks. Running the command again resumes: it enqueues the shards of the unfinished run that
are not done (failed ones included), and waits.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from ..errors import BoilerError
from ..views import ViewModel
from . import log
from .key_walk import stored_views_and_keys
from .rebuild import (
    DISTRIBUTED,
    REBUILT,
    RebuildReport,
    concurrent_error,
    new_run_id,
    rebuild_ref,
    unfinished,
)
from .reconcile import reconcile

if TYPE_CHECKING:
    from ..compiler import Build

TASK_FUNCTION = "boilerRebuild"
SHARDS = "_boilerShards"  # each shard's plan: keys and their stored views
OUTCOMES = "_boilerShardOutcomes"  # each shard's outcome, once its task ran
DEFAULT_SHARD_KEYS = 200  # keys per task: well inside a task's time limit at ~10 ms a key
MAX_SHARD_KEYS = 5000
SHARD_BYTES = 400_000  # keys and paths per shard document (the limit is 1 MiB)
SHARD_CONCURRENCY = 20  # shards at once: Firestore's write ramp, not instances, is the limit
DONE, FAILED = "done", "failed"
PROGRESS_SECONDS = 1.0  # `wait` reports progress at least this often (elapsed time)


@dataclass
class ShardedRun:
    """One distributed rebuild run: which shards it has and which still need a task."""

    view: str
    run: str
    shards: int
    total: int
    to_enqueue: list[str]
    resumed: bool


@dataclass
class DistributedReport(RebuildReport):
    """A rebuild run's counts, summed over its shards' outcomes."""

    shards: int = 0
    shards_done: int = 0
    seconds: float = 0.0

    def which_run(self) -> str:
        return f"{super().which_run()}, distributed"

    def done(self) -> str:
        return f"{self.shards_done}/{self.shards} shards, {super().done()}"

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | {
            "mode": DISTRIBUTED,
            "shards": self.shards,
            "shardsDone": self.shards_done,
            "seconds": round(self.seconds, 3),
        }


def shards_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return rebuild_ref(client, view).collection(SHARDS)


def outcomes_of(client: firestore.Client, view: str) -> firestore.CollectionReference:
    return rebuild_ref(client, view).collection(OUTCOMES)


def outcomes_in_run(client: firestore.Client, view: str, run: str) -> Any:
    return outcomes_of(client, view).where(filter=FieldFilter("run", "==", run))


def split(
    keys: list[str], stored: Mapping[str, set[str]], shard_keys: int
) -> Iterator[tuple[list[str], dict[str, list[str]] | None]]:
    """Consecutive keys with their stored view paths, at most ``shard_keys`` keys and about
    ``SHARD_BYTES`` per shard; a key whose paths alone are too many goes alone, paths None."""
    chunk: list[str] = []
    paths: dict[str, list[str]] = {}
    size = 0
    for key in keys:
        mine = sorted(stored.get(key, ()))
        weight = len(key) + sum(len(path) + 4 for path in mine) + 8
        if weight > SHARD_BYTES:
            if chunk:
                yield chunk, paths
                chunk, paths, size = [], {}, 0
            yield [key], None  # its task lists the view's documents itself
            continue
        if chunk and (len(chunk) == shard_keys or size + weight > SHARD_BYTES):
            yield chunk, paths
            chunk, paths, size = [], {}, 0
        chunk.append(key)
        if mine:
            paths[key] = mine
        size += weight
    if chunk:
        yield chunk, paths


def plan(
    view: type[ViewModel],
    client: firestore.Client,
    *,
    shard_keys: int = DEFAULT_SHARD_KEYS,
    restart: bool = False,
) -> ShardedRun:
    """The run to drive: the unfinished distributed run of ``view`` (its shards not done),
    or a new one with every key recorded in shards."""
    if not 1 <= shard_keys <= MAX_SHARD_KEYS:
        raise ValueError(f"shard_keys must be between 1 and {MAX_SHARD_KEYS}, got {shard_keys}")
    name = view.spec().name
    ref = rebuild_ref(client, name)
    snapshot = ref.get()
    stored_run = None if restart else unfinished(snapshot, DISTRIBUTED)
    if stored_run is not None:
        run = str(stored_run["run"])
        done = {
            outcome.id
            for outcome in outcomes_in_run(client, name, run).stream()
            if (outcome.to_dict() or {}).get("state") == DONE
        }
        planned = shards_of(client, name).where(filter=FieldFilter("run", "==", run))
        pending = [shard.id for shard in planned.select([]).stream() if shard.id not in done]
        total, shards = int(stored_run.get("total", 0)), int(stored_run.get("shards", 0))
        return ShardedRun(name, run, shards, total, sorted(pending, key=int), resumed=True)
    run = new_run_id()
    for old in [
        *shards_of(client, name).list_documents(),
        *outcomes_of(client, name).list_documents(),
    ]:
        old.delete()
    stored, keys = stored_views_and_keys(view, client)
    pieces = list(split(keys, stored, shard_keys))
    batch, staged = client.batch(), 0
    for index, (piece, paths) in enumerate(pieces):
        entry = {"run": run, "keys": piece, "paths": paths}
        batch.set(shards_of(client, name).document(str(index)), entry)
        staged += 1
        if staged == 400:
            batch.commit()
            batch, staged = client.batch(), 0
    document = {
        "view": name,
        "run": run,
        "mode": DISTRIBUTED,
        "shards": len(pieces),
        "total": len(keys),
        "cursor": None,
        "counts": {},
        "startedAt": firestore.SERVER_TIMESTAMP,
        "finishedAt": None,
        "updatedAt": firestore.SERVER_TIMESTAMP,
    }
    # Guarded like the local walk's progress: a second planner at once stops here.
    if snapshot.exists:
        option = client.write_option(last_update_time=snapshot.update_time)
        batch.update(ref, document, option=option)
    else:
        batch.create(ref, document)
    try:
        batch.commit()
    except (gexc.FailedPrecondition, gexc.AlreadyExists) as error:
        raise concurrent_error(name, ref)() from error
    ids = [str(index) for index in range(len(pieces))]
    return ShardedRun(name, run, len(pieces), len(keys), ids, resumed=False)


def enqueue(run: ShardedRun) -> int:
    """One ``boilerRebuild`` task per shard not done; the number enqueued."""
    if os.environ.get("FIRESTORE_EMULATOR_HOST") and not os.environ.get(
        "CLOUD_TASKS_EMULATOR_HOST"
    ):
        raise BoilerError(
            "rebuild --distributed hands shards to the boilerRebuild task queue, and no tasks "
            "emulator is set (CLOUD_TASKS_EMULATOR_HOST) beside FIRESTORE_EMULATOR_HOST: run it "
            "against the running stack (`./dev up` prints both variables) or without "
            "--distributed",
            code="task-queue-unavailable",
        )
    from firebase_admin import functions as admin_functions

    from .durable import _admin_app

    queue = admin_functions.task_queue(TASK_FUNCTION, app=_admin_app())
    for shard in run.to_enqueue:
        payload = {"view": run.view, "run": run.run, "shard": shard}
        try:
            queue.enqueue({"data": payload})
        except Exception as error:
            raise BoilerError(
                f"rebuild {run.view}: could not enqueue shard {shard} on {TASK_FUNCTION}: "
                f"{error}. Is {TASK_FUNCTION} deployed (firebase deploy --only functions)? "
                "Run the command again to resume: shards already done are not redone",
                code="task-queue-unavailable",
            ) from error
    return len(run.to_enqueue)


def run_shard(build: Build, data: Mapping[str, Any], client: firestore.Client) -> str:
    """The task's work: reconcile one shard's keys and record its outcome.
    Returns what happened (``done``, ``failed``, ``already``, ``obsolete``)."""
    try:
        views = {view.spec().name: view for view in build.app.views}
        view, run, shard = views[str(data["view"])], str(data["run"]), str(data["shard"])
    except (KeyError, TypeError) as error:  # nothing to retry: the payload is not ours
        log.error("boiler.rebuild_shard_invalid", payload=json.dumps(data, default=str))
        raise ValueError(f"not a {TASK_FUNCTION} payload: {data!r}") from error
    name = view.spec().name
    plan_ref, outcome_ref = shards_of(client, name).document(shard), outcomes_of(client, name)
    planned, outcome = client.get_all([plan_ref, outcome_ref.document(shard)])
    entry = planned.to_dict() if planned.exists else None
    if entry is None or entry.get("run") != run:
        log.info("boiler.rebuild_shard_obsolete", view=name, run=run, shard=shard)
        return "obsolete"  # a later run replaced this one's shards
    if (outcome.to_dict() or {}).get("run") == run and outcome.get("state") == DONE:
        return "already"
    paths = entry.get("paths")
    stored = None if paths is None else {key: set(found) for key, found in paths.items()}
    report = reconcile(view, client, list(entry["keys"]), stored=stored)
    state = FAILED if report.failures else DONE
    counts = {
        "aggregates": report.aggregates,
        "rewritten": report.stale,
        "deleted": report.orphans,
        "heldBack": len(report.invalid),
        "failed": report.failed,
    }
    batch = client.batch()
    # Guarded by the plan: a run that replaced this one meanwhile keeps its own outcomes.
    option = client.write_option(last_update_time=planned.update_time)
    batch.update(plan_ref, {"ranAt": firestore.SERVER_TIMESTAMP}, option=option)
    result = {"run": run, "state": state, "counts": counts, "failures": report.failures}
    batch.set(outcome_ref.document(shard), result | {"finishedAt": firestore.SERVER_TIMESTAMP})
    try:
        batch.commit()
    except (gexc.FailedPrecondition, gexc.NotFound):
        log.info("boiler.rebuild_shard_obsolete", view=name, run=run, shard=shard)
        return "obsolete"
    log.info("boiler.rebuild_shard", view=name, run=run, shard=shard, state=state)
    return state


def summed(run: ShardedRun, outcomes: Iterable[Mapping[str, Any]]) -> DistributedReport:
    """The run's counts from the outcomes of its shards that ran."""
    report = DistributedReport(
        view=run.view, run=run.run, resumed=run.resumed, shards=run.shards, total=run.total
    )
    for outcome in outcomes:
        report.shards_done += 1
        counts = outcome.get("counts") or {}
        report.aggregates += int(counts.get("aggregates", 0))
        report.rewritten += int(counts.get("rewritten", 0))
        report.deleted += int(counts.get("deleted", 0))
        report.held_back += int(counts.get("heldBack", 0))
        report.failures += list(outcome.get("failures") or [])
    report.failures.sort(key=lambda failure: failure["key"])
    return report


def wait(
    client: firestore.Client,
    run: ShardedRun,
    *,
    timeout: float,
    progress: Callable[[DistributedReport], None] | None = None,
) -> DistributedReport:
    """Listen to the run's shard outcomes until every shard ran (or ``timeout`` seconds
    passed); a run whose shards all finished without failures is marked finished.

    One listener on the outcomes query: each outcome is read once, when its task writes it,
    however long the wait."""
    started = time.monotonic()
    deadline = started + timeout
    outcomes: dict[str, dict[str, Any]] = {}
    changed = threading.Condition()

    def on_snapshot(snapshots: list[Any], _changes: Any, _read_time: Any) -> None:
        with changed:
            for snapshot in snapshots:
                outcomes[snapshot.id] = snapshot.to_dict() or {}
            changed.notify_all()

    watch = outcomes_in_run(client, run.view, run.run).on_snapshot(on_snapshot)
    try:
        with changed:
            while True:
                report = summed(run, list(outcomes.values()))
                report.seconds = time.monotonic() - started
                if progress is not None:
                    progress(report)
                left = deadline - time.monotonic()
                if report.shards_done >= run.shards or left <= 0:
                    break
                changed.wait(timeout=min(left, PROGRESS_SECONDS))
    finally:
        watch.unsubscribe()
    if report.shards_done >= run.shards and not report.failures:
        report.status = REBUILT
        _finish(client, run, report)
    log.info("boiler.rebuilt", **report.as_dict())
    return report


def _finish(client: firestore.Client, run: ShardedRun, report: DistributedReport) -> None:
    """Mark the run finished, unless a newer run replaced it meanwhile."""
    ref = rebuild_ref(client, run.view)
    snapshot = ref.get()
    if (snapshot.to_dict() or {}).get("run") != run.run:
        return
    ref.update(
        {
            "counts": {
                "aggregates": report.aggregates,
                "rewritten": report.rewritten,
                "deleted": report.deleted,
                "heldBack": report.held_back,
                "failed": 0,
            },
            "finishedAt": firestore.SERVER_TIMESTAMP,
            "updatedAt": firestore.SERVER_TIMESTAMP,
        },
        option=client.write_option(last_update_time=snapshot.update_time),
    )
