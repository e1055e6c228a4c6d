"""The implementations under test, loaded in-process: boiler's functions and the baseline."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from boiler.runtime.client import use_client
from boiler.testing.events import deliver, document_written_event
from google.cloud import firestore

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Implementation:
    """A variant's four triggers (ticket, meeting, user, location); how to give it a client."""

    name: str
    module: ModuleType
    functions: dict[str, Callable[[Any], Any]]
    set_client: Callable[[firestore.Client | None], None]

    def deliver(
        self, source: str, path: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        """Call the trigger for ``source`` in-process with a real binary-mode CloudEvent."""
        deliver(self.functions[source], document_written_event(path, before, after))


def boiler() -> Implementation:
    main = _load("bench_boiler_main", ROOT / "functions" / "main.py")
    functions = {
        "ticket": main.meeting_session_on_ticket,
        "meeting": main.meeting_session_on_meeting,
        "user": main.meeting_session_on_user,
        "location": main.meeting_session_on_location,
    }
    return Implementation("boiler", main, functions, use_client)


def baseline() -> Implementation:
    main = _load("bench_baseline_main", ROOT / "bench" / "baseline_functions" / "main.py")
    functions = {
        "ticket": main.baseline_on_ticket,
        "meeting": main.baseline_on_meeting,
        "user": main.baseline_on_user,
        "location": main.baseline_on_location,
    }
    return Implementation("baseline", main, functions, main.use_client)


def baseline_lists() -> ModuleType:
    """The list views' recompute-on-every-change baseline (``bench/lists.py`` calls it)."""
    return _load("bench_baseline_lists", ROOT / "bench" / "baseline_functions" / "lists.py")


def both() -> list[Implementation]:
    return [boiler(), baseline()]
