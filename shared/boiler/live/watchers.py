"""Fan-in: one Firestore listener per watched document per server, shared by its subscribers.

google-cloud-firestore calls a listener on a thread of its own; the registry hands each new
version to the event loop (``call_soon_threadsafe``), keeps it as the document's latest, and
offers it to every subscriber's ``Latest`` slot. The last subscriber to leave closes the
listener (on a worker thread: closing joins the listener's thread)::

    watchers = Watchers(client, asyncio.get_running_loop())
    slot = Latest[Version]()
    watchers.add("agendas/u1", slot)      # opens the listener; slot gets each version
    watchers.remove("agendas/u1", slot)   # the last one out closes it
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore

from .latest import Latest


@dataclass(frozen=True)
class Version:
    """A watched document's stored fields at one point (None: it does not exist)."""

    path: str
    data: dict[str, Any] | None
    number: int  # 1 for the listener's first snapshot, then one more per change
    # The body as sent, shaped once for every subscriber: see shaping.py.
    bodies: dict[tuple[type, str], asyncio.Future[Any]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass
class _Watch:
    listener: Any  # google.cloud.firestore_v1.watch.Watch
    subscribers: set[Latest[Version]] = field(default_factory=set)
    latest: Version | None = None


class Watchers:
    """The open listeners of one server instance, by document path."""

    def __init__(self, client: firestore.Client, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self._watches: dict[str, _Watch] = {}
        self._closing: set[asyncio.Future[Any]] = set()

    @property
    def listener_count(self) -> int:
        """Open Firestore listeners: one per watched document, however many watch it."""
        return len(self._watches)

    def subscriber_count(self, path: str) -> int:
        watch = self._watches.get(path)
        return len(watch.subscribers) if watch else 0

    def add(self, path: str, subscriber: Latest[Version]) -> None:
        """Offer ``subscriber`` every version of ``path`` from now on (the latest at once)."""
        watch = self._watches.get(path)
        if watch is None:
            watch = _Watch(listener=None)
            self._watches[path] = watch
            watch.listener = self._client.document(path).on_snapshot(self._on_thread(path, watch))
        watch.subscribers.add(subscriber)
        if watch.latest is not None:
            subscriber.offer(watch.latest)

    def remove(self, path: str, subscriber: Latest[Version]) -> None:
        watch = self._watches.get(path)
        if watch is None:
            return
        watch.subscribers.discard(subscriber)
        if not watch.subscribers:
            del self._watches[path]
            self._release(watch)

    async def close(self) -> None:
        """Close every listener and wait until they are closed."""
        for watch in self._watches.values():
            self._release(watch)
        self._watches.clear()
        await self.drained()

    async def drained(self) -> None:
        """Wait until every listener released so far is closed."""
        while self._closing:
            await asyncio.gather(*self._closing)

    def _release(self, watch: _Watch) -> None:
        closing = self._loop.run_in_executor(None, watch.listener.unsubscribe)
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    def _on_thread(self, path: str, watch: _Watch) -> Any:
        def on_snapshot(snapshots: list[Any], changes: Any, read_time: Any) -> None:
            found = [s for s in snapshots if s.exists]
            data = found[0].to_dict() if found else None
            try:
                self._loop.call_soon_threadsafe(self._publish, path, watch, data)
            except RuntimeError:  # the loop is closed: the server has stopped
                pass

        return on_snapshot

    def _publish(self, path: str, watch: _Watch, data: dict[str, Any] | None) -> None:
        if self._watches.get(path) is not watch:  # released while this version was on its way
            return
        number = watch.latest.number + 1 if watch.latest else 1
        watch.latest = Version(path, data, number)
        for subscriber in watch.subscribers:
            subscriber.offer(watch.latest)
