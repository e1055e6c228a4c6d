"""Pytest fixtures that run boiler apps against real Firebase emulators.

Enabled by the `pytest11` entry point, or explicitly with
`pytest_plugins = ["boiler.testing.pytest_plugin"]` in a conftest.py::

    def test_round_trip(boiler_firestore):
        rooms = boiler_firestore.collection("rooms")
        rooms.document("r1").set({"name": "Blue"})
        assert rooms.document("r1").get().get("name") == "Blue"

Every fixture is named ``boiler_*``, so installing boiler adds no name another project's
tests might already use. A server that cannot start fails the test (with the log path); it
is never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .emulators import EmulatorError, EmulatorSuite, FirestoreEmulator

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from .rest import RestClient


def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _empty_client(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], reset: Callable[[], object], project: str
) -> Client:
    """Point this process at an emulator, empty its database, and return a client on it."""
    from google.cloud import firestore as firestore_module

    _set_env(monkeypatch, env)
    reset()
    return firestore_module.Client(project=project)


@pytest.fixture(scope="session")
def boiler_firestore_emulator() -> Iterator[FirestoreEmulator]:
    """A standalone Firestore emulator for the whole session; clients in this process use it."""
    emulator = FirestoreEmulator(project_id="demo-test")
    try:
        emulator.start()
    except EmulatorError as error:
        pytest.fail(f"Firestore emulator did not start: {error}", pytrace=False)
    saved = {name: os.environ.get(name) for name in emulator.env()}
    os.environ.update(emulator.env())
    try:
        yield emulator
    finally:
        emulator.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def boiler_firestore(
    boiler_firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> Client:
    """An empty database: a `google.cloud.firestore.Client` on the standalone emulator."""
    emulator = boiler_firestore_emulator
    return _empty_client(monkeypatch, emulator.env(), emulator.reset, emulator.project_id)


@pytest.fixture
def boiler_rest(boiler_firestore_emulator: FirestoreEmulator) -> Callable[..., RestClient]:
    """Firestore over REST as one user, under the project's firestore.rules (loaded into the
    standalone emulator): ``boiler_rest("alice")``; ``boiler_rest(None)`` is signed out,
    ``boiler_rest(OWNER)`` admin; ``claims=`` adds custom claims::

        assert boiler_rest("bob").get("users/alice/boards/b1").status_code == 403
    """
    from .rest import RestClient

    emulator = boiler_firestore_emulator
    emulator.load_rules((emulator.root / "firestore.rules").read_text())

    def client(uid: str | None, claims: dict[str, Any] | None = None) -> RestClient:
        return RestClient(emulator.host, emulator.project_id, uid=uid, claims=claims)

    return client


@pytest.fixture(scope="session")
def boiler_emulator_suite() -> Iterator[EmulatorSuite]:
    """firebase-tools' Firestore, Functions, Auth and Hosting emulators (free ports).

    Functions come from the project's functions/main.py, with shared/ on PYTHONPATH; hosting
    serves web/dist. One suite serves every test: starting one costs 10-20 s.
    """
    suite = EmulatorSuite(
        only=("firestore", "functions", "auth", "hosting"), project_id="demo-boiler"
    )
    try:
        suite.start()
    except EmulatorError as error:
        pytest.fail(f"Firebase emulator suite did not start: {error}", pytrace=False)
    try:
        yield suite
    finally:
        suite.stop()


@pytest.fixture
def boiler_suite_firestore(
    boiler_emulator_suite: EmulatorSuite, monkeypatch: pytest.MonkeyPatch
) -> Client:
    """An empty database in the emulator suite (where functions trigger), as a client."""
    suite = boiler_emulator_suite
    return _empty_client(monkeypatch, suite.env(), suite.reset_firestore, suite.project_id)
