"""The trigger pipeline: what runs inside a deployed function."""

from typing import Any


def __getattr__(name: str) -> Any:
    # transitional: the chaos harness still imports runtime.store; removed when it imports
    # runtime.bookkeeping
    if name == "store":
        from . import bookkeeping

        return bookkeeping
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
