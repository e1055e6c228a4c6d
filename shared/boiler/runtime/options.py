"""Runtime options: the knobs of the pipeline, the command runner and the redrive task.

Production runs with the defaults; tests and benchmarks pass their own through
``export_functions(app, options=...)`` or straight to ``Pipeline`` / ``CommandRunner``::

    options = Options(group_size=1, serialize_local_events=False, faults=hook)
    functions = export_functions(app, options=options)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

GROUP_SIZE = 25  # aggregates rebuilt per commit when one change fans out
MAX_RETRIES = 8  # optimistic attempts per commit before the durable path takes over


class Progress(Protocol):
    """What a fault hook is shown: a view event's ``Outcome`` or a ``CommandOutcome``."""

    @property
    def function(self) -> str: ...
    @property
    def event_id(self) -> str: ...


# Called with a step name ("before_read", "commit", "command_commit", ...) and the event's
# progress; it may raise to inject a failure there (docs/durability.md, "Fault injection").
FaultHook = Callable[[str, Progress], None]


def default_max_retries() -> int:
    """``BOILER_MAX_RETRIES`` if set, else 8."""
    return int(os.environ.get("BOILER_MAX_RETRIES", str(MAX_RETRIES)))


@dataclass(frozen=True, kw_only=True)
class Options:
    """How the runtime runs; every field has its production default.

    ``group_size``: aggregates per commit in a fan-out (25). ``max_retries``: optimistic
    attempts per commit (``BOILER_MAX_RETRIES``, else 8). ``faults``: a hook called at each
    injection step (tests; ``None`` costs nothing). ``serialize_local_events``: events of one
    aggregate in one instance take turns (on); tests standing in for many instances turn it
    off to keep the races.

    >>> Options(group_size=10).max_retries
    8
    """

    group_size: int = GROUP_SIZE
    max_retries: int = field(default_factory=default_max_retries)
    faults: FaultHook | None = None
    serialize_local_events: bool = True
    platform_retries: bool = True

    @property
    def write_ahead(self) -> bool:
        """Whether events record themselves in ``_boilerPending`` before their first commit:
        only when nothing else would deliver a dying invocation's event again."""
        return not self.platform_retries
