"""Fixtures for every test: boiler's emulator fixtures (boiler/testing/pytest_plugin.py), under
the short names this project's tests use (the plugin itself only adds ``boiler_*`` names)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["boiler.testing.pytest_plugin"]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the deploy proof's fresh venv (pip, ~25 s on a new machine) while the
    tests before it run. A failure here is left to the test itself, which builds it again
    and reports why."""
    if not any(item.nodeid.startswith("tests/test_deploy_bundle.py") for item in session.items):
        return
    from .test_deploy_bundle import prebuild_venv

    def build() -> None:
        try:
            prebuild_venv()
        except BaseException:  # pytest.fail raises BaseException; the test reports it
            pass

    threading.Thread(target=build, name="deploy-venv", daemon=True).start()


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
