"""Chaos: duplicated, reordered, concurrent and failing deliveries still give exact views, and
every command ends applied exactly once, rejected or superseded.

The workload also leaves documents invalid (wrong types, ids Firestore rejects) until a later
write or the final heal, writes users with a large undeclared field and meetings with many
participants, and races commands against domain writes and each other; each test checks
that those classes were exercised, not only that nothing failed.

A longer soak: ``./dev exec -- .venv/bin/python -m devtools.chaos --events 5000 --seed N``
(or ``python -m devtools.chaos`` alone: it starts its own Firestore emulator).
"""

from __future__ import annotations

from typing import Any

import pytest
from boiler.runtime.client import use_client
from google.cloud import firestore
from meeting_room import app

from devtools.chaos import ChaosConfig, ChaosReport, run_chaos
from devtools.chaos_checks import FINAL


@pytest.fixture
def db(firestore: firestore.Client, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GCLOUD_PROJECT", firestore.project)
    yield firestore
    use_client(None)


def assert_exercised(report: ChaosReport) -> None:
    """The classes the harness adds happened in this run (a quiet run proves nothing)."""
    assert report.invalid > 0 and report.bad_ids > 0 and report.healed > 0, report.summary()
    assert report.oversized > 0 and report.largest_meeting >= 12, report.summary()
    assert report.commands.get("applied", 0) > 0, report.summary()
    # One status commit per command still there (the harness checks each; withdrawn: <= 1).
    final = sum(report.commands.get(status, 0) for status in FINAL)
    assert final <= report.command_commits <= final + report.commands.get("withdrawn", 0)
    assert report.effects > 0, report.summary()  # applied commands' writes reached the views
    # Quiet points with invalid documents left: aggregates both held back and compared.
    assert report.checkpoint_compared > 0 and report.checkpoint_held > 0, report.summary()


@pytest.mark.parametrize("seed", [11, 23, 42])
def test_chaos_converges_to_the_from_scratch_rebuild(db: firestore.Client, seed: int) -> None:
    report = run_chaos(db, app, ChaosConfig(seed=seed, operations=150, threads=4), progress=print)
    assert report.ok, "\n".join([report.summary(), *report.problems])
    assert report.crashed > 0 and report.pending_after_drain > 0  # the durable path was exercised
    assert report.redelivered >= report.crashed  # the platform delivered the died ones again
    assert report.deliveries > report.events  # duplicates were delivered
    assert_exercised(report)


def test_chaos_without_platform_retries_finishes_died_events_from_their_write_ahead_entries(
    db: firestore.Client,
) -> None:
    config = ChaosConfig(seed=31, operations=150, threads=4, platform_retries=False)
    report = run_chaos(db, app, config, progress=print)
    assert report.ok, "\n".join([report.summary(), *report.problems])
    assert report.crashed > 0 and report.redelivered == 0 and report.redriven > 0
    assert_exercised(report)


def test_chaos_without_faults_needs_no_durable_path(db: firestore.Client) -> None:
    report = run_chaos(db, app, ChaosConfig(seed=5, operations=120, fault_rate=0.0), progress=print)
    assert report.ok, "\n".join([report.summary(), *report.problems])
    assert report.pending_after_drain == 0
    assert_exercised(report)


def test_racing_commands_for_one_target_supersede_the_older(db: firestore.Client) -> None:
    """Mostly bursts of commands for one target, delivered out of order: older ones arriving
    after a newer applied one are superseded (and name it), each status committed once."""
    report = run_chaos(
        db,
        app,
        ChaosConfig(seed=31, operations=150, burst_weight=60, crowd=12),
        progress=print,
    )
    assert report.ok, "\n".join([report.summary(), *report.problems])
    assert all(report.commands.get(status, 0) > 0 for status in FINAL), report.summary()
    assert report.command_crashes > 0, report.summary()  # invocations died mid-command
    # One status commit per command still there (the harness checks each; withdrawn: <= 1).
    final = sum(report.commands.get(status, 0) for status in FINAL)
    assert final <= report.command_commits <= final + report.commands.get("withdrawn", 0)
