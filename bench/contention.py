"""Contention: N concurrent writers on one meeting, each toggling its own ticket and running the
trigger for its event in-process right away, against the standalone Firestore emulator.

``boiler`` stands in for N function instances (their events race on the meeting's record and
retry); ``boiler-1-instance`` is one instance running all N events at once (they take turns
per aggregate). Boiler's pipeline reports attempts/retries per event; the baseline has no
transaction, so it never retries but may leave views stale.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from boiler import compile_app
from boiler.errors import RetriesExhausted
from boiler.runtime.options import Options
from boiler.runtime.pipeline import Pipeline
from boiler.runtime.redrive import redrive_all
from google.cloud import firestore
from meeting_room import app

from . import domain
from .handlers import baseline as load_baseline

TRIGGER = "meeting_session_on_ticket"


def _boiler_handler(
    client: firestore.Client, options: Options | None = None
) -> Callable[[str], dict[str, Any]]:
    pipeline = Pipeline(compile_app(app).trigger(TRIGGER), client=client, options=options)

    def handle(path: str) -> dict[str, Any]:
        try:
            outcome = pipeline.handle(uuid.uuid4().hex, path)
        except RetriesExhausted:
            return {"status": "pending", "retries": pipeline.max_retries - 1}
        return {"status": outcome.status, "retries": outcome.retries, "covered": outcome.covered}

    return handle


def _baseline_handler(
    client: firestore.Client, options: Options | None = None
) -> Callable[[str], dict[str, Any]]:
    module = load_baseline().module

    def handle(path: str) -> dict[str, Any]:
        module.rebuild_meeting(client, path.split("/")[1])
        return {"status": "applied", "retries": 0}

    return handle


def _one(
    variant: str, emulator: Any, writers: int, events_each: int, deadline_s: float
) -> dict[str, Any]:
    emulator.reset()
    plain = firestore.Client(project=emulator.project_id)
    members = domain.seed_meeting(plain, "m1", writers)
    boiler = variant.startswith("boiler")
    make = _boiler_handler if boiler else _baseline_handler
    # Separate instances race on the meeting's record; one instance takes turns per aggregate.
    options = Options(serialize_local_events=variant == "boiler-1-instance")
    # Views exist before the run (one build from the meeting's creation).
    make(plain)("meetings/m1") if not boiler else Pipeline(
        compile_app(app).trigger("meeting_session_on_meeting"), client=plain
    ).handle(uuid.uuid4().hex, "meetings/m1")
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(writers + 1)
    stop_at = [0.0]

    def writer(uid: str) -> None:
        client = firestore.Client(project=emulator.project_id)
        handle = make(client, options)
        ticket = client.document(f"meetings/m1/tickets/{uid}")
        attending = True
        start.wait()
        for _ in range(events_each):
            if time.perf_counter() > stop_at[0]:
                return
            attending = not attending
            ticket.update({"attendance": attending})
            began = time.perf_counter()
            try:
                result = handle(ticket.path)
            except Exception as error:  # report, never hide: counted as a failed event
                result = {"status": f"error:{type(error).__name__}", "retries": 0}
            result["seconds"] = time.perf_counter() - began
            with lock:
                results.append(result)

    threads = [threading.Thread(target=writer, args=(uid,), daemon=True) for uid in members]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + deadline_s
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join(timeout=deadline_s + 120)
    wall = time.perf_counter() - began
    check = domain.wrong_views(plain)
    redrive = _durable_path(plain) if boiler else None
    after = domain.wrong_views(plain) if redrive is not None else check
    events = len(results)
    return {
        "writers": writers,
        "events": events,
        "wall_s": wall,
        "events_per_s": events / wall if wall else 0.0,
        "retries_per_event": sum(r["retries"] for r in results) / events if events else 0.0,
        "max_retries": max((r["retries"] for r in results), default=0),
        "pending": sum(1 for r in results if r["status"] == "pending"),
        "covered": sum(1 for r in results if r.get("covered")),
        "errors": sum(1 for r in results if r["status"].startswith("error")),
        "median_event_ms": 1000 * sorted(r["seconds"] for r in results)[events // 2]
        if events
        else 0.0,
        "check": check,
        "wrong_views_before_durable_path": domain.bad_count(check),
        "durable_path": redrive,
        "check_after_durable_path": after,
        "wrong_views": domain.bad_count(after),
    }


def _durable_path(client: firestore.Client) -> dict[str, Any] | None:
    """What the task queue would do in production: redrive every pending event, in-process."""
    from boiler.runtime import bookkeeping

    if not list(bookkeeping.pending_entries(client)):
        return None
    began = time.perf_counter()
    report = redrive_all(compile_app(app), client).as_dict()
    report["seconds"] = time.perf_counter() - began
    return report


def run(
    emulator: Any,
    writer_counts: tuple[int, ...],
    events_each: int,
    deadline_s: float,
    rounds: int = 1,
) -> dict[str, Any]:
    """Each writer count: one untimed warm-up (the emulator's JIT), then ``rounds`` rounds of
    every variant, their order rotating per round so drift and noise hit all of them; a
    variant's figures are over all its rounds (events/s: all events over all wall time)."""
    variants = ("boiler", "boiler-1-instance", "baseline")
    out: dict[str, Any] = {"events_each": events_each, "rounds": rounds, "by_impl": {}}
    for n in writer_counts:
        _one("baseline", emulator, n, 1, deadline_s)
        runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
        for number in range(rounds):
            order = variants[number % 3 :] + variants[: number % 3]
            for variant in order:
                runs[variant].append(_one(variant, emulator, n, events_each, deadline_s))
        for variant in variants:
            out["by_impl"].setdefault(variant, {})[str(n)] = _merged(runs[variant])
    return out


def _merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One variant's rounds as one run."""
    events = sum(r["events"] for r in runs)
    wall = sum(r["wall_s"] for r in runs)
    merged = dict(runs[-1])  # the last round's checks (a wrong view in any is summed below)
    merged.update(
        events=events,
        wall_s=wall,
        events_per_s=events / wall if wall else 0.0,
        events_per_s_rounds=[r["events_per_s"] for r in runs],
        retries_per_event=(
            sum(r["retries_per_event"] * r["events"] for r in runs) / events if events else 0.0
        ),
        max_retries=max(r["max_retries"] for r in runs),
        pending=sum(r["pending"] for r in runs),
        covered=sum(r["covered"] for r in runs),
        errors=sum(r["errors"] for r in runs),
        wrong_views_before_durable_path=sum(r["wrong_views_before_durable_path"] for r in runs),
        wrong_views=sum(r["wrong_views"] for r in runs),
    )
    return merged
