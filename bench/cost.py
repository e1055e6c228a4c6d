"""Cost per domain event: RPCs, documents read, written and deleted, and their price in price
units (``bench/prices.py``), per implementation, event type and meeting size.

Each event is written with a plain client, then its CloudEvent is delivered in-process to the
implementation's trigger running on a counting client, against the standalone Firestore emulator.
"""

from __future__ import annotations

import time
from typing import Any

from google.cloud import firestore

from . import domain, prices
from .counting import counting_client
from .handlers import Implementation
from .stats import median

EVENT_TYPES = ("ticket", "user", "location")
# Averaged over the repeats; deferred deletes: documents with the TTL field (deleted later).
COUNTS = ("rpcs", "reads", "writes", "deletes", "deferred_deletes", "units")


def _one_size(impl: Implementation, emulator: Any, size: int, repeats: int) -> dict[str, Any]:
    emulator.reset()
    plain = firestore.Client(project=emulator.project_id)
    client, tally = counting_client(emulator.project_id)
    impl.set_client(client)
    participants = domain.seed_meeting(plain, "m1", size)
    meeting = plain.document("meetings/m1").get().to_dict()
    impl.deliver("meeting", "meetings/m1", None, meeting)  # views and (boiler) the record exist
    # The renamed user attends throughout (a rename of an absent user changes no view); the
    # ticket toggles belong to someone else, but for one participant: they are measured last.
    renamed, toggled = participants[min(1, size - 1)], participants[-1]
    results: dict[str, Any] = {}
    for event_type in ("user", "location", "ticket"):
        samples = []
        for repeat in range(repeats):
            if event_type == "ticket":
                path = f"meetings/m1/tickets/{toggled}"
                before = plain.document(path).get().to_dict()
                after = {**before, "attendance": not before["attendance"]}
            elif event_type == "user":
                path = f"users/{renamed}"
                before = plain.document(path).get().to_dict()
                after = {**before, "firstName": f"Renamed{repeat}"}
            else:
                path = "locations/l1"
                before = plain.document(path).get().to_dict()
                after = {**before, "address": f"{repeat} Changed St"}
            plain.document(path).set(after)
            tally.reset()
            began = time.perf_counter()
            impl.deliver(event_type, path, before, after)
            elapsed = time.perf_counter() - began
            samples.append({**tally.snapshot(), "seconds": elapsed})
        results[event_type] = {
            **{key: sum(s[key] for s in samples) / repeats for key in COUNTS},
            "methods": samples[-1]["methods"],
            # Where the writes and deletes go, per first path segment (_boilerLedger, users, ...).
            "written": samples[-1]["written"],
            "deleted": samples[-1]["deleted"],
            "in_process_ms": median([1000 * s["seconds"] for s in samples]),
            # Where the time goes: each RPC method's wall time, the rest is Python in the handler.
            "rpc_ms": {
                m: median([s["rpc_ms"].get(m, 0.0) for s in samples]) for m in samples[-1]["rpc_ms"]
            },
            "python_ms": median([1000 * s["seconds"] - sum(s["rpc_ms"].values()) for s in samples]),
        }
    check = domain.wrong_views(plain)
    impl.set_client(None)
    return {"events": {event: results[event] for event in EVENT_TYPES}, "check": check}


def run(
    emulator: Any, implementations: list[Implementation], sizes: tuple[int, ...], repeats: int
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sizes": list(sizes),
        "repeats": repeats,
        "prices": {"read": prices.READ, "write": prices.WRITE, "delete": prices.DELETE},
        "by_impl": {},
    }
    for impl in implementations:
        out["by_impl"][impl.name] = {
            str(size): _one_size(impl, emulator, size, repeats) for size in sizes
        }
    return out
