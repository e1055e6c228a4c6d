"""Chaos: duplicated, reordered, concurrent and failing deliveries still give exact views.

A longer soak: ``./dev exec -- .venv/bin/python -m boiler.testing.chaos --events 5000 --seed N``
(or ``python -m boiler.testing.chaos`` alone: it starts its own Firestore emulator).
"""

from __future__ import annotations

from typing import Any

import pytest
from boiler.runtime.client import use_client
from boiler.testing.chaos import ChaosConfig, load_functions, run_chaos
from google.cloud import firestore
from meeting_room import app


@pytest.fixture(scope="module")
def functions() -> Any:
    return load_functions()


@pytest.fixture
def db(firestore: firestore.Client, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GCLOUD_PROJECT", firestore.project)
    yield firestore
    use_client(None)


@pytest.mark.parametrize("seed", [11, 23, 42])
def test_chaos_converges_to_the_from_scratch_rebuild(
    db: firestore.Client, functions: Any, seed: int
) -> None:
    report = run_chaos(
        db, app, ChaosConfig(seed=seed, operations=150, threads=4), functions, progress=print
    )
    assert report.ok, "\n".join([report.summary(), *report.problems])
    assert report.crashed > 0 and report.pending_after_drain > 0  # the durable path was exercised
    assert report.deliveries > report.events  # duplicates were delivered


def test_chaos_without_faults_needs_no_durable_path(db: firestore.Client, functions: Any) -> None:
    report = run_chaos(
        db, app, ChaosConfig(seed=5, operations=120, fault_rate=0.0), functions, progress=print
    )
    assert report.ok, "\n".join([report.summary(), *report.problems])
    assert report.pending_after_drain == 0
