"""Test helpers for boiler apps: emulator processes, pytest fixtures, waiting on conditions.

Fixtures ship as a pytest plugin (`boiler.testing.pytest_plugin`, registered through the
`pytest11` entry point or `pytest_plugins = ["boiler.testing.pytest_plugin"]`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .emulators import EmulatorError as EmulatorError
from .emulators import EmulatorSuite as EmulatorSuite
from .emulators import FirestoreEmulator as FirestoreEmulator
from .emulators import find_java as find_java
from .emulators import firestore_launcher as firestore_launcher
from .emulators import free_port as free_port

__all__ = [
    "EmulatorError",
    "EmulatorSuite",
    "FirestoreEmulator",
    "find_java",
    "firestore_launcher",
    "free_port",
    "wait_until",
]

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "",
) -> T:
    """Call `predicate` until it returns a truthy value, and return that value.

    Raises AssertionError naming the last value seen (or the last exception raised) once
    `timeout` seconds have passed, so a failing test says what it was waiting for::

        view = wait_until(lambda: views.document("r1").get().to_dict(), timeout=5)
    """
    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        attempts += 1
        last_error: BaseException | None = None
        try:
            value = predicate()
        except Exception as error:  # a not-yet-consistent read may raise; retry until deadline
            last_error, value = error, None  # type: ignore[assignment]
        if value and last_error is None:
            return value
        if time.monotonic() >= deadline:
            seen = f"last error: {last_error!r}" if last_error else f"last value: {value!r}"
            name = getattr(predicate, "__qualname__", repr(predicate))
            raise AssertionError(
                f"{message or name} not true after {timeout} s ({attempts} attempts); {seen}"
            )
        time.sleep(interval)
