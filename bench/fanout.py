"""Fan-out: one user rename that changes the view of every meeting the user is in.

One user ("star") participates (and attends) in M single-participant meetings, so the rename
changes exactly M views. Each implementation's user trigger runs in-process on the standalone
emulator; drain time is the trigger's run time (every view is written when it returns), peak
memory is the process' RSS growth sampled every 5 ms while it runs.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
from boiler import compile_app
from boiler.runtime.pipeline import Pipeline
from google.cloud import firestore
from meeting_room import app

from . import domain
from .counting import counting_client
from .handlers import baseline as load_baseline

STAR = "star"


class PeakRss:
    """Samples this process' resident memory in a thread; ``peak - start`` is the growth."""

    def __init__(self, interval: float = 0.005) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def _seed(client: firestore.Client, meetings: int) -> list[str]:
    writes = [(f"users/{STAR}", domain.user_doc(1)), ("locations/l1", domain.LOCATION)]
    ids = [f"f{i:05d}" for i in range(meetings)]
    for meeting_id in ids:
        writes += domain.meeting_writes(meeting_id, [STAR])
    domain.commit_in_batches(client, writes)
    return ids


def _one(variant: str, emulator: Any, meetings: int) -> dict[str, Any]:
    emulator.reset()
    client = firestore.Client(project=emulator.project_id)
    ids = _seed(client, meetings)
    build = compile_app(app)
    seeded = time.perf_counter()
    if variant == "boiler":
        # Each meeting's creation event builds its record and view (4 concurrent invocations).
        on_meeting = Pipeline(build.trigger("meeting_session_on_meeting"), client=client)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda m: on_meeting.handle(uuid.uuid4().hex, f"meetings/{m}"), ids))
    else:
        baseline = load_baseline().module
        baseline.rebuild_where(client, "participantIds", "array_contains", STAR)
    setup_s = time.perf_counter() - seeded
    client.document(f"users/{STAR}").update({"firstName": "Renamed"})
    counted, tally = counting_client(emulator.project_id)
    with PeakRss() as memory:
        began = time.perf_counter()
        if variant == "boiler":
            outcome = Pipeline(build.trigger("meeting_session_on_user"), client=counted).handle(
                uuid.uuid4().hex, f"users/{STAR}"
            )
            written, status, retries = outcome.views_written, outcome.status, outcome.retries
        else:
            written = baseline.rebuild_where(counted, "participantIds", "array_contains", STAR)
            status, retries = "applied", 0
        drain = time.perf_counter() - began
    rpcs = tally.snapshot()
    # A second rename under tracemalloc: the trigger's peak Python heap (slower, so not timed).
    client.document(f"users/{STAR}").update({"firstName": "Renamed again"})
    tracemalloc.start()
    try:
        if variant == "boiler":
            Pipeline(build.trigger("meeting_session_on_user"), client=client).handle(
                uuid.uuid4().hex, f"users/{STAR}"
            )
        else:
            baseline.rebuild_where(client, "participantIds", "array_contains", STAR)
        heap_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    check = domain.wrong_views(client)
    return {
        "views": meetings,
        "drain_s": drain,
        "views_per_s": meetings / drain if drain else 0.0,
        # Where the drain time goes (wall time per RPC method; the emulator answers queries by
        # scanning the collection, so query time grows faster than the result count there).
        "rpc_s": {name: ms / 1000 for name, ms in rpcs["rpc_ms"].items()},
        "rpcs": rpcs["methods"],
        "reads": rpcs["reads"],
        "writes": rpcs["writes"],
        "deletes": rpcs["deletes"],
        "peak_rss_growth_mb": memory.growth_mb,
        "peak_heap_mb": heap_peak / 2**20,
        "views_written": written,
        "status": status,
        "retries": retries,
        "setup_s": setup_s,
        "check": check,
        "wrong_views": domain.bad_count(check),
    }


def run(emulator: Any, sizes: tuple[int, ...], baseline_sizes: tuple[int, ...]) -> dict[str, Any]:
    return {
        "by_impl": {
            "boiler": [_one("boiler", emulator, n) for n in sizes],
            "baseline": [_one("baseline", emulator, n) for n in baseline_sizes],
        }
    }
