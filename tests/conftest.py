"""Fixtures for every test: boiler's emulator fixtures (boiler/testing/pytest_plugin.py), under
the short names this project's tests use (the plugin itself only adds ``boiler_*`` names)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["boiler.testing.pytest_plugin"]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Slow set-up steps start in the background as soon as their tests are collected: a
    test module may define ``prepare_in_background()``, which starts its work in a thread
    and returns at once (its fixture then waits for the result, and reports its failure)."""
    modules = {item.module for item in session.items if isinstance(item, pytest.Function)}
    for module in sorted(modules, key=lambda m: m.__name__):
        prepare = getattr(module, "prepare_in_background", None)
        if prepare is not None:
            prepare()


@pytest.fixture(scope="session")
def firestore_emulator(boiler_firestore_emulator: Any) -> Any:
    return boiler_firestore_emulator


@pytest.fixture
def firestore(boiler_firestore: Any) -> Any:
    return boiler_firestore


@pytest.fixture(scope="session")
def emulator_suite(boiler_emulator_suite: Any) -> Any:
    return boiler_emulator_suite


@pytest.fixture
def suite_firestore(boiler_suite_firestore: Any) -> Any:
    return boiler_suite_firestore


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser binary: BOILER_CHROMIUM, else `chromium` on PATH; a missing one fails."""
    found = os.environ.get("BOILER_CHROMIUM") or shutil.which("chromium")
    if not found or not Path(found).exists():
        pytest.fail(
            "no Chromium for the browser test: run ./dev setup (installs the Debian package "
            "`chromium` as root), or `apt-get install -y chromium`, or set BOILER_CHROMIUM="
            "/path/to/chromium. (Never `npx playwright install`.)",
            pytrace=False,
        )
    return found
