"""Progress bars for the CLI's long work (rebuild, migrate), drawn by Rich on stderr.

    with progress_bar("MeetingCard") as advance:
        advance(done=120, total=9000)     # call as often as there is news

On a terminal the bar redraws in place; elsewhere (CI logs, pipes) Rich prints only the
final state, so logs stay readable. stdout is left to the command's own output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(label: str, unit: str = "keys") -> Iterator[Callable[[int, int], None]]:
    """A bar named ``label`` counting ``unit``; yields ``advance(done, total)``."""
    # Imported here: rich is the CLI's dependency; the deployed functions (which carry this
    # package) never draw a bar and do not install it.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, done))

        yield advance
