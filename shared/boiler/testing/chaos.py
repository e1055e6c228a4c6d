"""Chaos harness: random domain writes, delivered as real CloudEvents with duplicates, reordering,
concurrency and injected failures, then every view checked against a from-scratch rebuild.

The events go to the real decorated functions of ``functions/main.py``, in-process, against
a real Firestore emulator. Failures are injected through ``boiler.runtime.pipeline.faults``:
``crash`` (the invocation dies: a BaseException nothing in boiler catches), ``error`` (an
exception the pipeline hands to the durable path) and ``contention`` (an ``Aborted`` commit,
retried). After the deliveries drain, the durable path runs (what the task function runs),
then the check compares every stored view with ``build()`` on freshly read documents::

    python -m boiler.testing.chaos --events 5000 --seed 7      # a soak; starts an emulator

A failure names the seed and the first diverging view; the same seed replays the same
operations, deliveries and faults (thread timing aside).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import random
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..app import App
from ..compiler import Build, compile_app
from ..runtime import durable, pipeline, store
from ..runtime.client import use_client
from ..sources import ChildrenSpec, JoinSpec, ManySpec
from ..views import ViewModel
from .events import deliver, document_written_event

ROUND = 12  # domain writes between delivery rounds
RARE_STEP_BOOST = 8  # only multi-commit events reach before_ledger: fail it more often
STEPS = ("before_read", "after_read", "commit", "after_commit", "before_ledger")
FUNCTIONS_MAIN = Path(__file__).resolve().parents[3] / "functions" / "main.py"


class InjectedCrash(BaseException):
    """The invocation dies here (like a killed process): nothing in boiler may catch it."""


class InjectedError(Exception):
    """A failure the pipeline is expected to hand to the durable path."""


@dataclass
class ChaosConfig:
    seed: int = 1
    operations: int = 300  # domain writes (each one event per trigger it matches)
    threads: int = 4
    max_copies: int = 3  # each event delivered 1..max_copies times
    fault_rate: float = 0.04  # per pipeline step reached
    users: int = 8
    locations: int = 3
    meetings: int = 6


@dataclass
class Write:
    """One domain write and the event Firestore would emit for it."""

    path: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    event_id: str


@dataclass
class ChaosReport:
    seed: int
    writes: int = 0
    events: int = 0
    deliveries: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    crashed: int = 0
    pending_after_drain: int = 0
    redriven: int = 0
    retries: int = 0
    views: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        rate = self.deliveries / self.seconds if self.seconds else 0.0
        return (
            f"seed={self.seed} writes={self.writes} events={self.events} "
            f"deliveries={self.deliveries} "
            f"steps={self.steps} faults={self.faults} crashed={self.crashed} "
            f"pending={self.pending_after_drain} "
            f"redriven={self.redriven} retries={self.retries} views={self.views} "
            f"{self.seconds:.1f}s ({rate:.0f} deliveries/s)"
        )


# -- domain operations on the meeting-room app -----------------------------------------------
class MeetingRoomWorkload:
    """Random meeting-room writes on small id pools (so operations collide), mirrored locally."""

    def __init__(self, client: firestore.Client, rng: random.Random, config: ChaosConfig) -> None:
        self.client, self.rng, self.config = client, rng, config
        self.docs: dict[str, dict[str, Any]] = {}  # the harness is the only domain writer

    def _ids(self, prefix: str, count: int) -> list[str]:
        return [f"{prefix}{n}" for n in range(count)]

    def _existing(self, prefix: str) -> list[str]:
        return sorted(
            p.split("/")[1] for p in self.docs if p.startswith(prefix) and p.count("/") == 1
        )

    def write(self, path: str, after: dict[str, Any] | None) -> Write:
        before = self.docs.get(path)
        ref = self.client.document(path)
        if after is None:
            ref.delete()
            self.docs.pop(path, None)
        else:
            ref.set(after)
            self.docs[path] = after
        return Write(path, before, after, uuid.UUID(int=self.rng.getrandbits(128)).hex)

    def step(self) -> list[Write]:
        rng = self.rng
        kind = rng.choices(
            [
                "user",
                "user_delete",
                "location",
                "location_delete",
                "meeting",
                "meeting_update",
                "meeting_delete",
                "add",
                "remove",
                "attendance",
            ],
            weights=[10, 2, 5, 1, 6, 8, 2, 10, 6, 25],
        )[0]
        uid = rng.choice(self._ids("u", self.config.users))
        location = rng.choice(self._ids("l", self.config.locations))
        meetings = self._existing("meetings/")
        if kind == "user":
            return [
                self.write(
                    f"users/{uid}",
                    {
                        "firstName": rng.choice(["Ann", "Bo", "Cy", "Di"])
                        + str(rng.randrange(100)),
                        "lastName": rng.choice(["Lee", "Ma", "No"]),
                        "organization": rng.choice(["Acme", "Initech"]),
                        "hearingAidRequested": rng.random() < 0.3,
                    },
                )
            ]
        if kind == "user_delete":
            return [self.write(f"users/{uid}", None)]
        if kind == "location":
            return [
                self.write(
                    f"locations/{location}",
                    {
                        "address": f"{rng.randrange(1, 99)} Main St",
                        "latitude": round(rng.uniform(-90, 90), 4),
                        "longitude": round(rng.uniform(-180, 180), 4),
                    },
                )
            ]
        if kind == "location_delete":
            return [self.write(f"locations/{location}", None)]
        if kind == "meeting" or not meetings:
            meeting_id = rng.choice(self._ids("m", self.config.meetings))
            participants = rng.sample(self._ids("u", self.config.users), rng.randrange(0, 6))
            writes = [
                self.write(
                    f"meetings/{meeting_id}",
                    {
                        "title": f"Meeting {rng.randrange(1000)}",
                        "locationId": location,
                        "status": rng.choice(["not-started", "in-session", "closed"]),
                        "participantIds": participants,
                    },
                )
            ]
            return writes + [
                self.write(
                    f"meetings/{meeting_id}/tickets/{p}",
                    {"role": "participant", "attendance": rng.random() < 0.5},
                )
                for p in participants
            ]
        meeting_id = rng.choice(meetings)
        path = f"meetings/{meeting_id}"
        meeting = dict(self.docs[path])
        if kind == "meeting_update":
            field_name = rng.choice(["title", "status", "locationId"])
            meeting[field_name] = {
                "title": f"Meeting {rng.randrange(1000)}",
                "status": rng.choice(["not-started", "in-session", "closed"]),
                "locationId": location,
            }[field_name]
            return [self.write(path, meeting)]
        if kind == "meeting_delete":
            return [self.write(path, None)]
        if kind == "add":
            if uid not in meeting["participantIds"]:
                meeting["participantIds"] = [*meeting["participantIds"], uid]
            return [
                self.write(path, meeting),
                self.write(
                    f"{path}/tickets/{uid}",
                    {"role": "participant", "attendance": rng.random() < 0.5},
                ),
            ]
        if kind == "remove":
            if not meeting["participantIds"]:
                return []
            gone = rng.choice(meeting["participantIds"])
            meeting["participantIds"] = [p for p in meeting["participantIds"] if p != gone]
            return [self.write(path, meeting), self.write(f"{path}/tickets/{gone}", None)]
        tickets = sorted(p for p in self.docs if p.startswith(f"{path}/tickets/"))
        if not tickets:
            return []
        ticket_path = rng.choice(tickets)
        ticket = dict(self.docs[ticket_path])
        ticket["attendance"] = not ticket["attendance"]
        return [self.write(ticket_path, ticket)]


# -- the from-scratch rebuild, independent of the runtime's records ----------------------------
def expected_views(view: type[ViewModel], client: firestore.Client) -> dict[str, dict[str, Any]]:
    """``build()`` on documents read fresh: the views a perfect pipeline would have stored."""
    spec = view.spec()
    sources = spec.sources
    root = sources.__root__
    expected: dict[str, dict[str, Any]] = {}
    for snapshot in client.collection(root.template.collection).stream():
        root_model = root.model.from_firestore(snapshot.reference.path, snapshot.to_dict() or {})
        loaded: dict[str, Any] = {root.name: root_model}
        for name, source in sources.__sources__.items():
            if isinstance(source, JoinSpec | ManySpec):
                refs = [client.document(path) for path in source.paths(root_model)]
                found = {
                    snap.id: source.model.from_firestore(snap.reference.path, snap.to_dict() or {})
                    for snap in client.get_all(refs)
                    if snap.exists
                }
                loaded[name] = (
                    next(iter(found.values()), None) if isinstance(source, JoinSpec) else found
                )
            elif isinstance(source, ChildrenSpec):
                collection = snapshot.reference.collection(source.template.segments[-2])
                loaded[name] = {
                    child.id: source.model.from_firestore(
                        child.reference.path, child.to_dict() or {}
                    )
                    for child in collection.stream()
                }
        for path, built in view.build_paths(sources(snapshot.id, **loaded)).items():
            expected[path] = built.to_firestore()
    return expected


def stored_views(view: type[ViewModel], client: firestore.Client) -> dict[str, dict[str, Any]]:
    template = view.spec().template
    return {
        snap.reference.path: snap.to_dict() or {}
        for snap in client.collection_group(template.segments[-2]).stream()
        if template.match(snap.reference.path) is not None
    }


def first_divergence(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    for path in sorted(expected.keys() | actual.keys()):
        if expected.get(path) != actual.get(path):
            return f"{path}: expected {expected.get(path)!r}, stored {actual.get(path)!r}"
    return None


# -- delivery ---------------------------------------------------------------------------------
def load_functions(path: Path = FUNCTIONS_MAIN, group_size: int | None = 1) -> Any:
    """The project's ``functions/main.py`` as a module (what the Firebase CLI deploys).

    ``group_size`` (aggregates per commit) is small by default so that a user in a few
    meetings already fans out over several commits and a separate ledger commit.
    """
    spec = importlib.util.spec_from_file_location("boiler_chaos_functions_main", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    default = pipeline.GROUP_SIZE
    pipeline.GROUP_SIZE = group_size or default
    try:
        spec.loader.exec_module(module)
    finally:
        pipeline.GROUP_SIZE = default
    return module


class FaultPlan:
    """Seeded decisions per (function, event, step, occurrence): the pipeline's ``faults`` hook."""

    def __init__(self, seed: int, rate: float) -> None:
        self.seed, self.rate = seed, rate
        self.counts: dict[str, int] = {}
        self.steps: dict[str, int] = {}  # how often each injection point was reached
        self._seen: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self.enabled = True

    def __call__(self, step: str, outcome: pipeline.Outcome) -> None:
        if not self.enabled:
            return
        key = (outcome.function, outcome.event_id, step)
        with self._lock:
            occurrence = self._seen[key] = self._seen.get(key, 0) + 1
        digest = hashlib.blake2b(f"{self.seed}:{key}:{occurrence}".encode(), digest_size=8).digest()
        rate = self.rate * RARE_STEP_BOOST if step == "before_ledger" else self.rate
        roll = int.from_bytes(digest, "big") / 2**64
        if roll >= rate:
            return
        kind = ("crash", "error", "contention")[int(roll / rate * 3)]
        if kind == "contention" and step not in ("commit", "before_read"):
            return
        with self._lock:
            self.counts[f"{kind}@{step}"] = self.counts.get(f"{kind}@{step}", 0) + 1
        if kind == "crash":
            raise InjectedCrash(f"{step}: {outcome.function} {outcome.event_id}")
        if kind == "error":
            raise InjectedError(f"{step}: {outcome.function} {outcome.event_id}")
        raise gexc.Aborted(f"injected contention at {step}")


def run_chaos(
    client: firestore.Client,
    app: App,
    config: ChaosConfig,
    functions: Any | None = None,
    progress: Callable[[str], None] | None = None,
) -> ChaosReport:
    """Write, deliver with chaos, drain the durable path, check; returns the report (see ``ok``)."""
    build = compile_app(app)
    functions = functions or load_functions()
    rng = random.Random(config.seed)
    report = ChaosReport(config.seed)
    use_client(client)
    workload = MeetingRoomWorkload(client, rng, config)
    plan = FaultPlan(config.seed, config.fault_rate)
    retries: dict[int, int] = {}
    crashed = 0
    lock = threading.Lock()
    delivered: list[tuple[str, Callable[..., Any], Any]] = []

    def one(delivery: tuple[str, Callable[..., Any], Any]) -> None:
        nonlocal crashed
        try:
            deliver(delivery[1], delivery[2])
        except InjectedCrash:
            with lock:
                crashed += 1

    original = pipeline.faults, pipeline.serialize_local_events
    started = time.monotonic()
    pipeline.faults = _counting(plan, retries)
    # Threads here stand in for separate function instances: let them race on one aggregate.
    pipeline.serialize_local_events = False
    try:
        # Writes go on while earlier events are delivered: deliveries see intermediate states.
        # Each round's deliveries are shuffled, and some are held back to later rounds.
        held: list[tuple[str, Callable[..., Any], Any]] = []
        futures = []
        with ThreadPoolExecutor(config.threads) as pool:
            while report.writes < config.operations:
                writes: list[Write] = []
                while len(writes) < ROUND:
                    writes.extend(workload.step())
                report.writes += len(writes)
                batch = list(_deliveries(build, functions, writes, rng, config))
                late = [rng.random() < 0.2 for _ in batch]
                now = [d for d, hold in zip(batch, late, strict=True) if not hold] + held
                held = [d for d, hold in zip(batch, late, strict=True) if hold]
                rng.shuffle(now)
                delivered.extend(now)
                futures += [pool.submit(one, d) for d in now]
            rng.shuffle(held)
            delivered.extend(held)
            futures += [pool.submit(one, d) for d in held]
            for future in futures:
                future.result()
    finally:
        pipeline.faults, pipeline.serialize_local_events = original
    deliveries = delivered
    report.deliveries = len(deliveries)
    report.events = len({(name, event["id"]) for name, _, event in deliveries})
    report.faults, report.crashed, report.steps = dict(plan.counts), crashed, dict(plan.steps)
    report.retries = sum(retries.values())
    report.pending_after_drain = sum(
        1 for _ in client.collection(store.PENDING).select([]).stream()
    )
    redrive = durable.redrive_all(build, client)  # what the task-queue function runs
    report.redriven = redrive.redriven
    report.seconds = time.monotonic() - started
    report.problems.extend(redrive.errors)
    _check(build, client, deliveries, report)
    if progress is not None:
        progress(report.summary())
    return report


def _counting(plan: FaultPlan, retries: dict[int, int]) -> Callable[[str, pipeline.Outcome], None]:
    """The fault plan, plus the retries each delivery needed (seen at its commits)."""

    def hook(step: str, outcome: pipeline.Outcome) -> None:
        if step == "after_commit":
            retries[id(outcome)] = outcome.retries
        with plan._lock:
            plan.steps[step] = plan.steps.get(step, 0) + 1
        plan(step, outcome)

    return hook


def _deliveries(
    build: Build, functions: Any, writes: list[Write], rng: random.Random, config: ChaosConfig
) -> Iterator[tuple[str, Callable[..., Any], Any]]:
    for write in writes:
        for trigger in build.triggers:
            if trigger.source.template.match(write.path) is None:
                continue
            event = document_written_event(
                write.path, write.before, write.after, event_id=write.event_id, project=None
            )
            for _ in range(rng.randint(1, config.max_copies)):
                yield trigger.name, getattr(functions, trigger.name), event


def _check(
    build: Build, client: firestore.Client, deliveries: list[Any], report: ChaosReport
) -> None:
    left = [snap.id for snap in client.collection(store.PENDING).stream()]
    if left:
        report.problems.append(
            f"seed {report.seed}: {len(left)} pending entries left, e.g. {left[0]}"
        )
    for view in build.app.views:
        expected, actual = expected_views(view, client), stored_views(view, client)
        report.views += len(expected)
        divergence = first_divergence(expected, actual)
        if divergence is not None:
            report.problems.append(f"seed {report.seed}: first diverging view {divergence}")
    events = sorted({(name, event["id"]) for name, _, event in deliveries})
    refs = [store.ledger_ref(client, name, event_id) for name, event_id in events]
    missing = [snap.id for snap in client.get_all(refs) if not snap.exists]
    if missing:
        report.problems.append(
            f"seed {report.seed}: {len(missing)} events without a ledger entry, e.g. {missing[0]}"
        )
    ledger = sum(1 for _ in client.collection(store.LEDGER).select([]).stream())
    if ledger != len(events):
        report.problems.append(
            f"seed {report.seed}: {ledger} ledger entries for {len(events)} events"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m boiler.testing.chaos", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=2000, help="domain writes (one event each)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1, help="seeds seed, seed+1, ...")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--fault-rate", type=float, default=0.04)
    args = parser.parse_args(argv)
    from meeting_room import app  # the flagship example the harness drives

    from .emulators import FirestoreEmulator

    emulator = None
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        emulator = FirestoreEmulator(project_id="demo-chaos")
        emulator.start()
        os.environ.update(emulator.env())
    project = os.environ.get("GCLOUD_PROJECT") or "demo-chaos"
    os.environ.setdefault("GCLOUD_PROJECT", project)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    failed = 0
    try:
        functions = load_functions()
        for round_seed in range(seed, seed + args.rounds):
            client = firestore.Client(project=project)
            _wipe(client)
            config = ChaosConfig(round_seed, args.events, args.threads, fault_rate=args.fault_rate)
            report = run_chaos(client, app, config, functions, progress=print)
            for problem in report.problems:
                print(problem, file=sys.stderr)
            failed += not report.ok
    finally:
        if emulator is not None:
            emulator.stop()
    return 1 if failed else 0


def _wipe(client: firestore.Client) -> None:
    import os

    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    url = f"http://{host}/emulator/v1/projects/{client.project}/databases/(default)/documents"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE")).read()


if __name__ == "__main__":
    sys.exit(main())
