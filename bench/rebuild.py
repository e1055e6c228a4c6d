"""Rebuild: the views of a whole database rebuilt from the domain, in one process
(``boiler rebuild``) and sharded over the task queue (``boiler rebuild --distributed``).

One emulator suite (Firestore, Functions and the tasks emulator) serves a codebase with only
the ``boilerRebuild`` task function of the meeting-room app's ``MeetingSession`` view: no
Firestore trigger, so seeding builds nothing and both modes start from the same state, the
domain without a view or a record: ``meetings`` meetings of ``participants`` participants, one
view per participant and meeting (20,000 views at 4,000 x 5).

Single process: ``rebuild(MeetingSession, client)`` here, as the CLI runs it. Distributed:
``plan`` (list keys, record shards), ``enqueue`` (one task per shard), ``wait`` (until every
shard reports), timed end to end; the tasks emulator delivers shards to the functions
emulator, which runs each in a Python worker of its own, ``concurrency`` at once (deployed,
the default is ``SHARD_CONCURRENCY`` instances; the emulators share this machine's cores).
Between the modes the database is emptied and seeded again. Both results are checked against
the oracle (every view right, none missing or extra).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from boiler.runtime import rebuild_distributed as sharded
from boiler.runtime.rebuild import rebuild
from google.cloud import firestore
from meeting_room import MeetingSession

from . import domain
from .stack import BenchSuite, generated_codebase, serving

ROOT = Path(__file__).resolve().parent.parent

CODEBASE_MAIN = """\
import sys
sys.path.insert(0, {shared!r})
from boiler import App, compile_app
from boiler.connectors.firebase import rebuild_task
from meeting_room import MeetingSession, app

sessions = App(app.name, domain=app.domain, views=[MeetingSession])
boilerRebuild = rebuild_task(compile_app(sessions), max_concurrent_shards={concurrency})
"""


def codebase(concurrency: int) -> str:
    main = CODEBASE_MAIN.format(shared=str(ROOT / "shared"), concurrency=concurrency)
    return generated_codebase("rebuild-bench", main)


def seed(client: firestore.Client, meetings: int, participants: int) -> None:
    """Users, one location, ``meetings`` meetings with a ticket per participant."""
    people = [domain.uid(i) for i in range(participants)]
    writes = [(f"users/{p}", domain.user_doc(i)) for i, p in enumerate(people)]
    writes.append(("locations/l1", domain.LOCATION))
    for index in range(meetings):
        writes += domain.meeting_writes(f"m{index:06d}", people)
    domain.commit_in_batches(client, writes)


def _mode(
    name: str,
    suite: Any,
    client: firestore.Client,
    meetings: int,
    participants: int,
    work: Callable[[], Any],
    log: Callable[[str], None],
) -> dict[str, Any]:
    suite.reset_firestore()
    seed(client, meetings, participants)
    log(f"rebuild: {name}: {meetings} meetings seeded, rebuilding ...")
    started = time.perf_counter()
    report = work()
    seconds = time.perf_counter() - started
    check = domain.wrong_views(client)
    views = meetings * participants
    log(f"rebuild: {name}: {views} views in {seconds:.1f} s ({views / seconds:.0f} views/s)")
    return {
        "seconds": seconds,
        "views": views,
        "keys": meetings,
        "views_per_s": views / seconds,
        "rewritten": report.rewritten,
        "failed": report.failed,
        "status": report.status,
        "check": check,
        **({"shards": report.shards} if name == "distributed" else {}),
    }


def _most_in_flight(log_text: str, since: int) -> int:
    """The most shard tasks the functions emulator ran at once (its log after ``since``)."""
    running = most = 0
    for line in log_text[since:].splitlines():
        if 'Beginning execution of "us-central1-boilerRebuild"' in line:
            running += 1
            most = max(most, running)
        elif 'Finished "us-central1-boilerRebuild"' in line:
            running -= 1
    return most


def run(
    meetings: int,
    participants: int,
    shard_keys: int,
    concurrency: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    suite = BenchSuite(codebase(concurrency), only=("firestore", "functions"))
    log(f"rebuild: starting emulators (log {suite.log_path})")
    suite.start()
    with serving(suite):
        os.environ["CLOUD_TASKS_EMULATOR_HOST"] = suite.host("tasks")
        client = firestore.Client(project=suite.project_id)

        def distributed() -> Any:
            planned = sharded.plan(MeetingSession, client, shard_keys=shard_keys)
            sharded.enqueue(planned)
            return sharded.wait(client, planned, timeout=1800)

        log_start = len(Path(suite.log_path).read_text(errors="replace"))
        try:
            modes = {
                "single": _mode(
                    "single",
                    suite,
                    client,
                    meetings,
                    participants,
                    lambda: rebuild(MeetingSession, client),
                    log,
                ),
                "distributed": _mode(
                    "distributed", suite, client, meetings, participants, distributed, log
                ),
            }
        finally:
            os.environ.pop("CLOUD_TASKS_EMULATOR_HOST", None)
        log_text = Path(suite.log_path).read_text(errors="replace")
        modes["distributed"]["most_in_flight"] = _most_in_flight(log_text, log_start)
    return {
        "meetings": meetings,
        "participants": participants,
        "shard_keys": shard_keys,
        "concurrency": concurrency,
        "modes": modes,
    }
