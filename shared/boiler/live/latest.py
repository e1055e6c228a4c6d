"""Back-pressure: a subscriber holds only the newest version it has not sent yet.

A client that reads slowly never makes the server queue its changes: each new version
replaces the one still waiting, so the client gets the latest state, never a backlog::

    >>> slot = Latest[int]()
    >>> slot.offer(1); slot.offer(2)
    >>> slot.pending()
    2
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """A one-value mailbox on the event loop: ``offer`` replaces, ``take`` waits and empties."""

    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self._value: T | None = None
        self.replaced = 0  # versions dropped for a newer one before they were sent

    def offer(self, value: T) -> None:
        if self._ready.is_set():
            self.replaced += 1
        self._value = value
        self._ready.set()

    def pending(self) -> T | None:
        return self._value if self._ready.is_set() else None

    async def take(self) -> T:
        await self._ready.wait()
        self._ready.clear()
        value, self._value = self._value, None
        return value  # type: ignore[return-value]  # set by offer before _ready
