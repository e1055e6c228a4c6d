"""Chaos harness: random domain writes and commands, delivered as real CloudEvents with
duplicates, reordering, concurrency and injected failures, then checked against a rebuild.

The events go to the real decorated functions ``export_functions(app, options)`` returns
(what ``functions/main.py`` deploys), in-process, against a real Firestore emulator. The
workload (chaos_workload.py) also leaves documents invalid (wrong types, ids Firestore
rejects) until a later write or the final heal fixes them, writes users with a large
undeclared field and meetings with many participants, and creates commands that race the
domain writes and each other. Failures are injected through the ``faults`` hook of
``boiler.runtime.options.Options``, in view and command invocations alike: ``crash`` (the
invocation dies: a BaseException nothing in boiler catches), ``error`` (an exception boiler
must handle) and ``contention`` (an ``Aborted`` commit, retried). After the deliveries, the
durable path runs (what the task function runs) until nothing is left. At a few quiet points
on the way (``checkpoints``) every aggregate whose sources are all valid must already be
exact; then a heal rewrites what is still invalid, and the final checks (chaos_checks.py):
every view equals the oracle (``boiler.testing.oracle``), nothing pending, every view event
finished by one of its deliveries (those that died are delivered again, as platform retries
do; ``--no-platform-retries``: their write-ahead entries are redriven), every command final
and its status committed exactly once (superseded ones naming a newer applied command of
their target), and reconcile finds nothing to repair::

    python -m devtools.chaos --events 5000 --seed 7   # ~10,500 deliveries, ~2.5 min

A failure names the seed and the first diverging view; the same seed replays the same
operations, and the same deliveries and faults as far as thread timing allows (which
commands apply, and when, adds their view events to the rounds).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from boiler.app import App
from boiler.commands import APPLIED
from boiler.compiler import Build, compile_app
from boiler.connectors.firebase import export_functions
from boiler.runtime import bookkeeping
from boiler.runtime.client import use_client
from boiler.runtime.options import FaultHook, Options, Progress
from boiler.runtime.redrive import redrive_all
from boiler.runtime.tallies import is_tally_view, members_of
from boiler.testing.emulators import FirestoreEmulator
from boiler.testing.events import deliver, document_written_event
from boiler.views import ViewModel
from cloudevents.http import CloudEvent
from google.api_core import exceptions as gexc
from google.cloud import firestore

from .chaos_checks import (
    FINAL,
    check_commands,
    check_finished,
    check_pending,
    check_reconcile,
    check_valid_aggregates,
    check_views,
    stale_errors,
)
from .chaos_workload import CommandDoc, MeetingRoomWorkload, Write

ROUND = 12  # domain writes between delivery rounds
LAG_ROUNDS = 2  # rounds whose deliveries may still be running while the next is written
DELIVERY_DEADLINE = 300.0  # seconds one round's deliveries may take (retries, backoff)
RARE_STEP_BOOST = 8  # only multi-commit events reach before_ledger: fail it more often
COMMAND_STEP_BOOST = 3  # commands are a small share of the events: fail their steps more often
STEPS = ("before_read", "after_read", "commit", "after_commit", "before_ledger")
COMMAND_STEPS = ("command_before_read", "command_commit", "command_after_commit")
SETTLE_ROUNDS = 10  # deliver, then redrive: each applied command adds a view event
REDELIVERY_ROUNDS = 50  # a died delivery's event is delivered again until one lives
CREATED = "google.cloud.firestore.document.v1.created"

Delivery = tuple[str, Callable[..., Any], CloudEvent]


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
    oversized_users: int = 3  # u0.. carry a large undeclared field (three pass 1 MiB together)
    avatar_bytes: int = 400_000
    crowd: int = 24  # users c0.. that large meetings draw from
    burst_weight: int = 8  # operations making several commands for one target in a row
    checkpoints: int = 3  # quiet points (drained, invalid documents left) checked on the way
    # Deployed with platform retries (the default): a delivery that died is delivered again.
    # Off: nothing redelivers it; its write-ahead entry is found by the durable path.
    platform_retries: bool = True


@dataclass
class ChaosReport:
    seed: int
    writes: int = 0
    events: int = 0
    deliveries: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    crashed: int = 0
    redelivered: int = 0  # deliveries of died invocations' events again (platform retries)
    command_crashes: int = 0  # of ``crashed``, inside command invocations
    raised: int = 0  # deliveries whose function raised (the platform would only log it)
    pending_after_drain: int = 0
    redriven: int = 0
    retries: int = 0
    views: int = 0
    invalid: int = 0  # writes leaving a document invalid (wrong types)
    bad_ids: int = 0  # meeting writes naming an id Firestore rejects
    oversized: int = 0  # user writes with the large undeclared field
    largest_meeting: int = 0
    fixed: int = 0  # invalid documents a later write made valid
    checkpoint_compared: int = 0  # aggregates with valid sources checked at checkpoints
    checkpoint_held: int = 0  # aggregates with an invalid source at checkpoints (skipped)
    healed: int = 0  # documents still invalid at the end, rewritten valid (or deleted)
    commands: dict[str, int] = field(default_factory=dict)  # final status: count
    command_commits: int = 0  # commits that set a command's status (seen at after_commit)
    effects: int = 0  # view events for documents changed by applied commands
    errors_left: int = 0  # documents in _boilerErrors at the end (resolved ones are removed)
    stale_errors: int = 0  # of those, invalid-document errors whose document is valid again
    records_refreshed: int = 0  # records reconcile rewrote after the drain (out of step)
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
            f"(commands {self.command_crashes}) raised={self.raised} "
            f"redelivered={self.redelivered} "
            f"pending={self.pending_after_drain} "
            f"redriven={self.redriven} retries={self.retries} views={self.views} "
            f"invalid={self.invalid} bad_ids={self.bad_ids} fixed={self.fixed} "
            f"checkpoint_compared={self.checkpoint_compared} "
            f"checkpoint_held={self.checkpoint_held} "
            f"healed={self.healed} "
            f"oversized={self.oversized} largest_meeting={self.largest_meeting} "
            f"commands={self.commands} command_commits={self.command_commits} "
            f"effects={self.effects} errors_left={self.errors_left} "
            f"stale_errors={self.stale_errors} records_refreshed={self.records_refreshed} "
            f"{self.seconds:.1f}s ({rate:.0f} deliveries/s)"
        )


def load_functions(app: App, options: Options) -> Any:
    """The functions ``functions/main.py`` deploys for ``app``, built with ``options`` (the
    harness's fault hook, a small group size, no local serialisation)."""
    return SimpleNamespace(**export_functions(app, options=options))


def chaos_options(hook: FaultHook | None = None, platform_retries: bool = True) -> Options:
    """Group size 1: a user in a few meetings already fans out over several commits and a
    separate ledger commit. No local serialisation: threads here stand in for instances."""
    return Options(
        group_size=1,
        faults=hook,
        serialize_local_events=False,
        platform_retries=platform_retries,
    )


class FaultPlan:
    """Seeded decisions per (function, event, step, occurrence): the pipeline's ``faults`` hook."""

    def __init__(self, seed: int, rate: float) -> None:
        self.seed, self.rate = seed, rate
        self.counts: dict[str, int] = {}
        self.steps: dict[str, int] = {}  # how often each injection point was reached
        self._seen: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self.enabled = True

    def __call__(self, step: str, outcome: Any) -> None:
        if not self.enabled:
            return
        key = (outcome.function, outcome.event_id, step)
        with self._lock:
            occurrence = self._seen[key] = self._seen.get(key, 0) + 1
        digest = hashlib.blake2b(f"{self.seed}:{key}:{occurrence}".encode(), digest_size=8).digest()
        rate = self.rate
        if step == "before_ledger":
            rate *= RARE_STEP_BOOST
        elif step in COMMAND_STEPS:
            rate *= COMMAND_STEP_BOOST
        roll = int.from_bytes(digest, "big") / 2**64
        if roll >= rate:
            return
        kind = ("crash", "error", "contention")[int(roll / rate * 3)]
        if kind == "contention" and step.removeprefix("command_") not in ("commit", "before_read"):
            return
        with self._lock:
            self.counts[f"{kind}@{step}"] = self.counts.get(f"{kind}@{step}", 0) + 1
        if kind == "crash":
            raise InjectedCrash(f"{step}: {outcome.function} {outcome.event_id}")
        if kind == "error":
            raise InjectedError(f"{step}: {outcome.function} {outcome.event_id}")
        raise gexc.Aborted(f"injected contention at {step}")


class ChaosRun:
    """One run's moving parts: deliveries, the fault hook, status commits counted per command."""

    def __init__(
        self,
        client: firestore.Client,
        build: Build,
        config: ChaosConfig,
        workload: MeetingRoomWorkload,
    ) -> None:
        self.client, self.build = client, build
        self.config, self.workload = config, workload
        self.options = chaos_options(self.hook, config.platform_retries)
        self.functions = load_functions(build.app, self.options)
        self.plan = FaultPlan(config.seed, config.fault_rate)
        self.commands = {spec.name: spec for spec in build.commands}
        self.lock = threading.Lock()
        self.delivered: list[Delivery] = []
        self.retries: dict[int, int] = {}
        self.crashed: Counter[str] = Counter()  # "view" | "command"
        self.raised = 0
        self.commits: Counter[str] = Counter()  # status commits per command event id
        self.committed: dict[str, str] = {}  # the status a command's commit set, per event id
        self.effects: list[Write] = []  # view events of applied commands, not delivered yet
        self.effected: set[str] = set()  # commands whose effect event exists
        self.by_event: dict[str, CommandDoc] = {}
        self.redeliveries: list[Delivery] = []  # died or raised: the platform delivers again
        self.finished: set[tuple[str, str]] = set()  # (function, event id) a delivery finished

    # -- the fault hook: counts, then the plan ---------------------------------------------
    def hook(self, step: str, outcome: Progress) -> None:
        # A view event's Outcome or a CommandOutcome: both carry retries and status.
        retries, status = getattr(outcome, "retries", 0), getattr(outcome, "status", None)
        with self.lock:
            self.plan.steps[step] = self.plan.steps.get(step, 0) + 1
            if step == "after_commit":
                self.retries[id(outcome)] = retries
        if step == "command_after_commit" and status in FINAL:
            # Counted before the plan runs: a crash injected here comes after the commit.
            with self.lock:
                self.commits[outcome.event_id] += 1
                self.committed[outcome.event_id] = str(status)
            command = self.by_event.get(outcome.event_id)
            if status == APPLIED and command is not None:
                self._effect(command)
        self.plan(step, outcome)

    def _effect(self, command: CommandDoc) -> None:
        """Queue the view event of the document an applied command changed (once per command)."""
        with self.lock:
            if command.path in self.effected:
                return
            self.effected.add(command.path)
        write = self.workload.effect(command, self.config.seed)
        if write is not None:
            with self.lock:
                self.effects.append(write)

    def take_effects(self) -> list[Write]:
        with self.lock:
            effects, self.effects = self.effects, []
        return effects

    # -- delivery ----------------------------------------------------------------------------
    def deliveries(self, writes: list[Write], rng: random.Random) -> list[Delivery]:
        """Each write's event for every function it triggers, 1..max_copies times."""
        found = []
        for write in writes:
            if write.created:  # the hook maps a command invocation back to its document
                command = self.workload.commands[write.path]
                self.by_event[command.event_id] = command
            names = [t.name for t in self.build.triggers if t.source.template.match(write.path)]
            names += [
                spec.name
                for spec in self.build.commands
                if write.created and spec.command.spec().template.match(write.path)
            ]
            event = _event(write)
            for name in names:
                for _ in range(rng.randint(1, self.config.max_copies)):
                    found.append((name, getattr(self.functions, name), event))
        return found

    def one(self, delivery: Delivery) -> None:
        name, function, event = delivery
        try:
            deliver(function, event)
        except InjectedCrash:
            with self.lock:
                self.crashed["command" if name in self.commands else "view"] += 1
                if self.config.platform_retries:
                    self.redeliveries.append(delivery)
            return
        except Exception:  # logged; redelivered with platform retries, else only logged
            with self.lock:
                self.raised += 1
                if self.config.platform_retries:
                    self.redeliveries.append(delivery)
            return
        with self.lock:
            self.finished.add((name, event["id"]))

    def submit(self, pool: ThreadPoolExecutor, batch: list[Delivery]) -> list[Future[None]]:
        self.delivered.extend(batch)
        return [pool.submit(self.one, delivery) for delivery in batch]

    def redeliver(self, pool: ThreadPoolExecutor, report: ChaosReport) -> None:
        """What platform retries do: deliver each died invocation's event again, later (it
        may die again, and is then delivered again)."""
        for _ in range(REDELIVERY_ROUNDS):
            with self.lock:
                batch, self.redeliveries = self.redeliveries, []
            if not batch:
                return
            report.redelivered += len(batch)
            for future in self.submit(pool, batch):
                future.result()
        report.problems.append(f"deliveries still dying after {REDELIVERY_ROUNDS} redeliveries")

    def view_writes(self) -> list[Write]:
        """Events for the documents of the views other views aggregate (meeting cards).

        Deployed, each write of such a view fires its own event; here the harness does not see
        the functions' writes, so at each settle it sends one for every such document (and for
        every one an aggregate still counts: deleted ones) once their own triggers are done.
        The aggregates are kept from current state, so these are the events that matter.
        """
        paths: set[str] = set()
        read = {
            t.source.model for t in self.build.triggers if issubclass(t.source.model, ViewModel)
        }
        for model in read:
            template = model.spec().template
            for snapshot in self.client.collection_group(template.segments[-2]).stream():
                if template.match(snapshot.reference.path) is not None:
                    paths.add(snapshot.reference.path)
        for view in self.build.app.views:
            if not is_tally_view(view):
                continue
            for entry in members_of(self.client, view.spec().name).select(["member"]).stream():
                member = (entry.to_dict() or {}).get("member", "")
                path = member.split("|", 1)[-1]
                if any(m.spec().template.match(path) for m in read):
                    paths.add(path)
        writes = []
        for snapshot in self.client.get_all([self.client.document(p) for p in sorted(paths)]):
            after = snapshot.to_dict() if snapshot.exists else None
            writes.append(Write(snapshot.reference.path, None, after, uuid.uuid4().hex))
        return writes

    # -- the end: the durable path until nothing is left ---------------------------------------
    def settle(self, pool: ThreadPoolExecutor, rng: random.Random, report: ChaosReport) -> None:
        """Deliver what applied commands changed, redrive, again, until a round adds nothing;
        then the events of the views other views aggregate, and redrive once more."""
        for _ in range(SETTLE_ROUNDS):
            batch = self.deliveries(self.take_effects(), rng)
            rng.shuffle(batch)
            for future in self.submit(pool, batch):
                future.result()
            self.redeliver(pool, report)
            self._redrive(report)
            views = self.deliveries(self.view_writes(), rng)
            rng.shuffle(views)
            for future in self.submit(pool, views):
                future.result()
            self.redeliver(pool, report)
            self._redrive(report)
            if not self.effects:
                self._unreported_effects()
                if not self.effects:
                    return
        report.problems.append(f"not settled after {SETTLE_ROUNDS} deliver/redrive rounds")

    def _redrive(self, report: ChaosReport) -> None:
        self.plan.enabled = False  # what the task function runs, undisturbed
        try:
            redrive = redrive_all(self.build, self.client, options=self.options)
        finally:
            self.plan.enabled = True
        report.redriven += redrive.redriven
        report.problems += [f"seed {report.seed}: redrive: {e}" for e in redrive.errors]

    def _unreported_effects(self) -> None:
        """Applied commands whose commit the hook never saw still changed documents."""
        pending = {p: c for p, c in self.workload.commands.items() if p not in self.effected}
        refs = [self.client.document(path) for path in pending]
        for snapshot in self.client.get_all(refs):
            if (snapshot.to_dict() or {}).get("status") == APPLIED:
                self._effect(pending[snapshot.reference.path])


def _event(write: Write) -> CloudEvent:
    event = document_written_event(
        write.path, write.before, write.after, event_id=write.event_id, project=None
    )
    if not write.created:
        return event
    # A command's trigger is on_document_created: the event Firestore sends it says so.
    return CloudEvent({**event.get_attributes(), "type": CREATED}, event.get_data())


def run_chaos(
    client: firestore.Client,
    app: App,
    config: ChaosConfig,
    progress: Callable[[str], None] | None = None,
) -> ChaosReport:
    """Write, deliver with chaos, heal, drain the durable path, check; see ``report.ok``."""
    build = compile_app(app)
    # Separate streams: the operations never depend on how many deliveries came before
    # (applied commands add view events as thread timing allows).
    rng = random.Random(f"{config.seed}:delivery")
    report = ChaosReport(config.seed)
    use_client(client)
    workload = MeetingRoomWorkload(
        client, random.Random(f"{config.seed}:workload"), config, app.domain
    )
    run = ChaosRun(client, build, config, workload)
    started = time.monotonic()
    with ThreadPoolExecutor(config.threads) as pool:
        for number in range(1, config.checkpoints + 1):
            until = config.operations * number // config.checkpoints
            last = number == config.checkpoints
            rounds = _workload_rounds(workload, report, until, finale=last)
            _deliver_rounds(run, pool, rng, report, rounds)
            _settle(run, pool, rng, report)
            _checkpoint(run, report)
        _deliver_rounds(run, pool, rng, report, iter([workload.heal()]))
        _settle(run, pool, rng, report)
    report.seconds = time.monotonic() - started
    _report(run, report)
    _check(run, report)
    if progress is not None:
        progress(report.summary())
    return report


def _workload_rounds(
    workload: MeetingRoomWorkload, report: ChaosReport, until: int, finale: bool
) -> Iterator[list[Write]]:
    """Rounds of about ``ROUND`` random writes up to ``until``, then maybe the finale."""
    while report.writes < until:
        writes: list[Write] = []
        while len(writes) < ROUND:
            writes.extend(workload.step())
        yield writes
    if finale:
        yield workload.finale()  # a few invalid documents the heal must fix


def _settle(
    run: ChaosRun, pool: ThreadPoolExecutor, rng: random.Random, report: ChaosReport
) -> None:
    """The durable path until nothing is left (counting what the deliveries left to it)."""
    report.pending_after_drain += sum(
        1 for _ in run.client.collection(bookkeeping.PENDING).select([]).stream()
    )
    run.settle(pool, rng, report)


def _checkpoint(run: ChaosRun, report: ChaosReport) -> None:
    """Quiet, with documents still invalid: the aggregates they do not touch are exact."""
    problems, compared, held = check_valid_aggregates(run.build, run.client, run.workload.problem)
    report.checkpoint_compared += compared
    report.checkpoint_held += held
    report.problems += [f"seed {report.seed}: checkpoint: {problem}" for problem in problems]


def _deliver_rounds(
    run: ChaosRun,
    pool: ThreadPoolExecutor,
    rng: random.Random,
    report: ChaosReport,
    rounds: Iterator[list[Write]],
) -> None:
    """Writes go on while earlier events are delivered: deliveries see intermediate states.

    Each round's deliveries are shuffled, and some are held back to later rounds; the view
    events of documents applied commands changed join the next round.
    """
    held: list[Delivery] = []
    in_flight: deque[list[Future[None]]] = deque()
    for writes in rounds:
        report.writes += len(writes)
        batch = run.deliveries(writes + run.take_effects(), rng)
        late = [rng.random() < 0.2 for _ in batch]
        now = [d for d, hold in zip(batch, late, strict=True) if not hold] + held
        held = [d for d, hold in zip(batch, late, strict=True) if hold]
        rng.shuffle(now)
        in_flight.append(run.submit(pool, now))
        # Writers do not outrun delivery by more than a few rounds: commands then meet the
        # state they were made against (raced, not long gone), as they would in production.
        while len(in_flight) > LAG_ROUNDS:
            _finish(in_flight.popleft())
    rng.shuffle(held)
    in_flight.append(run.submit(pool, held))
    while in_flight:
        _finish(in_flight.popleft())


def _finish(futures: list[Future[None]]) -> None:
    for future in futures:
        future.result(timeout=DELIVERY_DEADLINE)  # a hung delivery fails the run, loudly


def _report(run: ChaosRun, report: ChaosReport) -> None:
    counts = run.workload.counts
    report.deliveries = len(run.delivered)
    report.events = len({(name, event["id"]) for name, _, event in run.delivered})
    report.faults, report.steps = dict(run.plan.counts), dict(run.plan.steps)
    report.crashed = sum(run.crashed.values())
    report.command_crashes, report.raised = run.crashed["command"], run.raised
    report.retries = sum(run.retries.values())
    report.invalid, report.bad_ids, report.healed = counts.invalid, counts.bad_ids, counts.healed
    report.fixed = counts.fixed
    report.oversized, report.largest_meeting = counts.oversized, counts.largest_meeting
    report.command_commits = sum(run.commits.values())
    report.effects = len(run.effected)
    report.errors_left = sum(
        1 for _ in run.client.collection(bookkeeping.ERRORS).select([]).stream()
    )
    report.stale_errors = len(stale_errors(run.client, run.workload.problem))


def _check(run: ChaosRun, report: ChaosReport) -> None:
    problems = check_pending(run.client)
    view_problems, report.views = check_views(run.build, run.client)
    problems += view_problems
    events = [(name, event["id"]) for name, _, event in run.delivered]
    if run.config.platform_retries:  # else a death's work is finished by the durable path
        problems += check_finished(run.build, run.finished, events)
    workload = run.workload
    command_problems, statuses = check_commands(
        run.client, workload.commands, run.commits, workload.withdrawn, run.committed
    )
    report.commands = dict(sorted(statuses.items()))
    reconcile_problems, report.records_refreshed = check_reconcile(run.build, run.client)
    problems += reconcile_problems  # last: it repairs what it finds
    if command_problems:  # one line each would drown the rest: the count and the first few
        problems.append(f"{len(command_problems)} command problems, e.g.")
        problems += [f"  {problem}" for problem in command_problems[:5]]
    report.problems += [f"seed {report.seed}: {problem}" for problem in problems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.chaos", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=2000, help="domain writes (one event each)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1, help="seeds seed, seed+1, ...")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--fault-rate", type=float, default=0.04)
    parser.add_argument("--checkpoints", type=int, default=ChaosConfig.checkpoints)
    parser.add_argument(
        "--crowd",
        type=int,
        default=ChaosConfig.crowd,
        help="users c0.. that large meetings draw from (each large meeting: half to all of them)",
    )
    parser.add_argument(
        "--no-platform-retries",
        action="store_true",
        help="deploy without platform retries: died deliveries are not delivered again, their "
        "write-ahead entries are redriven",
    )
    args = parser.parse_args(argv)
    from meeting_room import app  # the flagship example the harness drives

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
        for round_seed in range(seed, seed + args.rounds):
            client = firestore.Client(project=project)
            _wipe(client)
            config = ChaosConfig(
                round_seed,
                args.events,
                args.threads,
                fault_rate=args.fault_rate,
                crowd=args.crowd,
                checkpoints=args.checkpoints,
                platform_retries=not args.no_platform_retries,
            )
            report = run_chaos(client, app, config, progress=print)
            for problem in report.problems:
                print(problem, file=sys.stderr)
            failed += not report.ok
    finally:
        if emulator is not None:
            emulator.stop()
    return 1 if failed else 0


def _wipe(client: firestore.Client) -> None:
    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    url = f"http://{host}/emulator/v1/projects/{client.project}/databases/(default)/documents"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE")).read()


if __name__ == "__main__":
    sys.exit(main())
