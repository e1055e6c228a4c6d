"""Freshness: domain write -> view visible to an ``on_snapshot`` listener, through functions.

For each variant a fresh emulator suite runs only that variant's codebase. Each round trip
alternates a floor sample (write a document nobody triggers on and listen to that document)
with a view sample (toggle a ticket and listen to a participant's view), so both see the same
machine load.

Like for like: boiler's codebase here exports the measured view's triggers only
(``MeetingSession``), as the baseline maintains that view alone. The app's other views
(cards, agendas, boards) add functions a ticket change also runs; deployed, each runs on its
own instances, but the emulator runs them all on this machine, where they would queue ahead
of the measured one.
"""

from __future__ import annotations

import contextlib
import queue
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.cloud import firestore

from . import domain
from .stack import BenchSuite, generated_codebase, serving

ROOT = Path(__file__).resolve().parent.parent

Snapshot = dict[str, Any] | None


class Arrivals:
    """Versions of a document timestamped as they arrive (put by a reader's thread)."""

    def __init__(self) -> None:
        self.snapshots: queue.Queue[tuple[float, Snapshot]] = queue.Queue()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float) -> float | None:
        """Arrival time of the first snapshot satisfying ``predicate``; None after ``timeout``."""
        deadline = time.perf_counter() + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            try:
                arrived, data = self.snapshots.get(timeout=remaining)
            except queue.Empty:
                return None
            if predicate(data):
                return arrived


class Listener(Arrivals):
    """An ``on_snapshot`` listener that timestamps each snapshot as it arrives."""

    def __init__(self, ref: firestore.DocumentReference) -> None:
        super().__init__()
        self.watch = ref.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, docs: list[Any], changes: Any, read_time: Any) -> None:
        now = time.perf_counter()
        for doc in docs:
            self.snapshots.put((now, doc.to_dict() if doc.exists else None))

    def close(self) -> None:
        self.watch.unsubscribe()


def _attending(data: Snapshot) -> set[str] | None:
    return None if data is None else {entry["uid"] for entry in data.get("attending", [])}


SESSIONS_MAIN = """\
import sys
sys.path.insert(0, {shared!r})
from boiler import App
from boiler.connectors.firebase import export_functions
from meeting_room import MeetingSession, app

sessions = App(app.name, domain=app.domain, views=[MeetingSession], commands=app.commands)
globals().update(export_functions(sessions))
"""


def sessions_codebase() -> str:
    """A codebase of the meeting-room app with only the measured view (see the docstring)."""
    main = SESSIONS_MAIN.format(shared=str(ROOT / "shared"))
    return generated_codebase("boiler-sessions", main)


def measure(
    variant: str,
    writes: int,
    warmup: int,
    participants: int,
    log: Callable[[str], None],
    keep_log: bool = False,
) -> dict[str, Any]:
    """One stack run: ``warmup`` + ``writes`` alternating floor and view round trips."""
    suite = BenchSuite(sessions_codebase() if variant == "boiler" else variant)
    log(f"freshness/{variant}: starting emulators (log {suite.log_path})")
    suite.start()
    with serving(suite), contextlib.ExitStack() as closing:
        client = firestore.Client(project=suite.project_id)
        members = domain.seed_meeting(client, "m1", participants)
        state = dict.fromkeys(members, True)
        view = Listener(client.document(f"users/{members[0]}/meetingSessions/m1"))
        floor = Listener(client.document("benchFloor/probe"))
        closing.callback(view.close)
        closing.callback(floor.close)
        # Cold workers: the first events wait for each function's Python worker to start.
        began = time.perf_counter()
        if view.wait_for(lambda d: _attending(d) == set(members), timeout=120) is None:
            raise RuntimeError(f"{variant}: the first view never appeared; log: {suite.log_path}")
        first_view = time.perf_counter() - began
        floor_ms: list[float] = []
        view_ms: list[float] = []
        timeouts = 0
        for i in range(warmup + writes):
            t0 = time.perf_counter()
            client.document("benchFloor/probe").set({"i": i})
            arrived = floor.wait_for(lambda d, i=i: d is not None and d.get("i") == i, timeout=10)
            if arrived is not None and i >= warmup:
                floor_ms.append(1000 * (arrived - t0))
            subject = members[1 + i % (len(members) - 1)]
            state[subject] = not state[subject]
            expected = {uid for uid, present in state.items() if present}
            t0 = time.perf_counter()
            client.document(f"meetings/m1/tickets/{subject}").update({"attendance": state[subject]})
            arrived = view.wait_for(lambda d, e=expected: _attending(d) == e, timeout=10)
            if arrived is None:
                timeouts += 1
                if timeouts >= 3:
                    log(
                        f"freshness/{variant}: 3 views never arrived; giving up "
                        f"(log {suite.log_path})"
                    )
                    break
            elif i >= warmup:
                view_ms.append(1000 * (arrived - t0))
        check = _settled_check(client)
        executions = _execution_ms(suite.log_path.read_text(errors="replace"))[warmup + 1 :]
        return {
            "variant": variant,
            "participants": participants,
            "view_ms": view_ms,
            "floor_ms": floor_ms,
            "function_ms": executions,
            "timeouts": timeouts,
            "startup_s": suite.startup_seconds,
            "first_view_s": first_view,
            "check": check,
            "log": str(suite.log_path) if keep_log else None,
        }


_FINISHED = re.compile(r'Finished "[\w-]+_on_ticket" in ([\d.]+)ms')


def _execution_ms(log_text: str) -> list[float]:
    """The ticket trigger's run times as the functions emulator reports them (request to return)."""
    return [float(match) for match in _FINISHED.findall(log_text)]


def _settled_check(client: firestore.Client, timeout: float = 15) -> dict[str, int]:
    """Views vs. a from-scratch build, once in-flight events have landed (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        check = domain.wrong_views(client)
        if domain.bad_count(check) == 0 or time.monotonic() > deadline:
            return check
        time.sleep(0.2)


def run(
    writes: int, warmup: int, participants: int, rounds: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """``rounds`` x (boiler stack, baseline stack), samples pooled per variant."""
    per_round = max(1, writes // rounds)
    runs: list[dict[str, Any]] = []
    for _ in range(rounds):
        for variant in ("boiler", "baseline"):
            runs.append(measure(variant, per_round, warmup, participants, log))
    pooled: dict[str, Any] = {}
    for variant in ("boiler", "baseline"):
        mine = [r for r in runs if r["variant"] == variant]
        pooled[variant] = {
            "view_ms": [x for r in mine for x in r["view_ms"]],
            "floor_ms": [x for r in mine for x in r["floor_ms"]],
            "function_ms": [x for r in mine for x in r["function_ms"]],
            "timeouts": sum(r["timeouts"] for r in mine),
            "wrong_views": sum(domain.bad_count(r["check"]) for r in mine),
            "startup_s": [r["startup_s"] for r in mine],
            "first_view_s": [r["first_view_s"] for r in mine],
        }
    return {
        "participants": participants,
        "writes_per_variant": per_round * rounds,
        "rounds": rounds,
        "variants": pooled,
    }
