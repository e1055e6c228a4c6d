"""Live server: a view's new version at a WebSocket client of ``/ws``, against the same version
at a Firestore ``on_snapshot`` listener of the view document, in the same run.

One emulator suite (Firestore, Functions with the measured view's triggers, Auth) and one live
server, started as ``python -m boiler.live`` in a process of its own (as deployed: the
clients' work does not share its interpreter). The caller is a participant with a real ID
token from the Auth emulator.

Two parts:

- **Latency.** Each domain write (a ticket toggled) runs the real trigger; the new view version
  is then awaited at both a WebSocket subscriber and an ``on_snapshot`` listener of the view,
  which timestamp it on arrival in their own threads. Both see the same write, so every sample
  is a pair: ``ws - snapshot`` is what the live server's hop adds (its own listener, the
  access check, shaping the body, the socket).
- **Push with N subscribers.** N WebSocket clients (one asyncio loop) subscribe to one view
  document; the server holds one listener for them all. The view document is then written
  directly (the trigger's time is not the live server's), paced: each write waits until every
  client has the version. Measured per write: write to the first and to the last client,
  against the on_snapshot listener's arrival. Then a burst of writes as fast as one writer
  goes: the pushes delivered per second, and whether every client ends on the last version
  (a slow client may skip versions, by design: it gets the latest, never a backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from boiler.testing.auth import AuthEmulator
from google.cloud import firestore
from websockets.asyncio.client import connect as connect_async
from websockets.sync.client import connect

from . import domain
from .freshness import Arrivals, Listener, Snapshot, _attending, _settled_check, sessions_codebase
from .stack import BenchSuite, serving

ROOT = Path(__file__).resolve().parent.parent
MEETING = "m1"
TIMEOUT = 30.0  # seconds one version may take to arrive


class SocketListener(Arrivals):
    """A ``/ws`` subscriber of one view document that timestamps each snapshot on arrival."""

    def __init__(self, url: str, token: str, path: str) -> None:
        super().__init__()
        self.errors: list[dict[str, Any]] = []
        self.socket = connect(url, open_timeout=TIMEOUT)
        self.socket.send(json.dumps({"type": "auth", "token": token}))
        self.socket.send(json.dumps({"type": "subscribe", "id": "view", "path": path}))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for text in self.socket:
            now = time.perf_counter()
            message = json.loads(text)
            if message["type"] == "snapshot":
                self.snapshots.put((now, message["data"]))
            else:
                self.errors.append(message)

    def close(self) -> None:
        self.socket.close()
        self.reader.join(TIMEOUT)


@contextlib.contextmanager
def live_server(log_path: Path) -> Iterator[str]:
    """``python -m boiler.live --app meeting_room`` on a free port, in the environment the
    suite set (its emulators); yields its ``ws://`` address."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "boiler.live", "--app", "meeting_room", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()  # "live server: ws://HOST:PORT/ws"
            if not line.startswith("live server: ws://"):
                raise RuntimeError(f"live: the server did not start ({line!r}); log {log_path}")
            yield line.removeprefix("live server: ")
        finally:
            process.terminate()
            try:
                process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def listener_count(url: str) -> int:
    """The server's open Firestore listeners, from its health endpoint."""
    health = url.replace("ws://", "http://").removesuffix("/ws") + "/healthz"
    return int(requests.get(health, timeout=TIMEOUT).json()["listeners"])


def server_rss_mib(url: str) -> float:
    """The live server's resident memory (MiB): the process listening on ``url``'s port."""
    import psutil

    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    for connection in psutil.net_connections(kind="tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == "LISTEN":
            return psutil.Process(connection.pid).memory_info().rss / 2**20
    raise RuntimeError(f"live: no process listens on port {port}")


def latency(
    client: firestore.Client,
    url: str,
    token: str,
    members: list[str],
    writes: int,
    warmup: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Paired samples (ms from the domain write): at the WebSocket client, at on_snapshot."""
    path = f"users/{members[0]}/meetingSessions/{MEETING}"
    state = dict.fromkeys(members, True)
    snapshot = Listener(client.document(path))
    socket = SocketListener(url, token, path)
    try:
        everyone = set(members)
        for listener in (snapshot, socket):  # the first view waits for cold workers
            if listener.wait_for(lambda d: _attending(d) == everyone, timeout=120) is None:
                raise RuntimeError(f"live: the first view never arrived ({socket.errors})")
        ws_ms: list[float] = []
        snapshot_ms: list[float] = []
        timeouts = 0
        for i in range(warmup + writes):
            subject = members[1 + i % (len(members) - 1)]
            state[subject] = not state[subject]
            expected = {uid for uid, present in state.items() if present}
            t0 = time.perf_counter()
            client.document(f"meetings/{MEETING}/tickets/{subject}").update(
                {"attendance": state[subject]}
            )
            arrivals = [
                listener.wait_for(_attending_is(expected), timeout=TIMEOUT)
                for listener in (socket, snapshot)
            ]
            if None in arrivals:
                timeouts += 1
                log(f"live: write {i} did not arrive at both ({socket.errors})")
                if timeouts >= 3:
                    break
                continue
            if i >= warmup:
                ws_ms.append(1000 * (arrivals[0] - t0))  # type: ignore[operator]
                snapshot_ms.append(1000 * (arrivals[1] - t0))  # type: ignore[operator]
        return {
            "ws_ms": ws_ms,
            "snapshot_ms": snapshot_ms,
            "timeouts": timeouts,
            "errors": socket.errors,
        }
    finally:
        socket.close()
        snapshot.close()


def _attending_is(expected: set[str]) -> Callable[[Snapshot], bool]:
    return lambda data: _attending(data) == expected


def _titled(version: int) -> Callable[[Snapshot], bool]:
    return lambda data: data is not None and data.get("title") == f"bench {version}"


async def _subscribers(
    url: str, token: str, path: str, count: int
) -> tuple[list[Any], list[asyncio.Queue[tuple[float, Snapshot]]], list[asyncio.Task[None]]]:
    """``count`` signed-in subscribers of ``path``, each with the first snapshot received."""
    inboxes: list[asyncio.Queue[tuple[float, Snapshot]]] = [asyncio.Queue() for _ in range(count)]
    sockets: list[Any] = []

    async def open_one(n: int) -> Any:
        socket = await connect_async(url, open_timeout=TIMEOUT, max_queue=None)
        await socket.send(json.dumps({"type": "auth", "token": token}))
        await socket.send(json.dumps({"type": "subscribe", "id": f"c{n}", "path": path}))
        return socket

    for start in range(0, count, 100):  # 100 handshakes at a time
        opened = await asyncio.gather(*(open_one(n) for n in range(start, min(count, start + 100))))
        sockets.extend(opened)

    async def read(socket: Any, inbox: asyncio.Queue[tuple[float, Snapshot]]) -> None:
        async for text in socket:
            now = time.perf_counter()
            message = json.loads(text)
            if message["type"] != "snapshot":
                raise RuntimeError(f"live: a subscriber was refused: {message}")
            inbox.put_nowait((now, message["data"]))

    readers = [asyncio.create_task(read(s, q)) for s, q in zip(sockets, inboxes, strict=True)]
    for inbox in inboxes:
        await asyncio.wait_for(inbox.get(), TIMEOUT)
    return sockets, inboxes, readers


async def _until(inbox: asyncio.Queue[tuple[float, Snapshot]], version: int) -> float:
    """Arrival time of the first snapshot at ``version`` or later (versions may be skipped)."""
    while True:
        arrived, data = await inbox.get()
        if data is not None and int(data["title"].rsplit(" ", 1)[-1]) >= version:
            return arrived


def push(
    client: firestore.Client,
    url: str,
    token: str,
    path: str,
    count: int,
    paced: int,
    burst: int,
) -> dict[str, Any]:
    """``count`` subscribers of ``path``: ``paced`` writes (each awaited at every client and
    at an on_snapshot listener), then ``burst`` writes back to back."""
    reference = client.document(path)
    base = reference.get().to_dict() or {}
    snapshot = Listener(reference)

    def write(version: int) -> float:
        began = time.perf_counter()
        reference.set({**base, "title": f"bench {version}"})
        return began

    async def scenario() -> dict[str, Any]:
        rss_before = server_rss_mib(url)
        sockets, inboxes, readers = await _subscribers(url, token, path, count)
        listeners = await asyncio.to_thread(listener_count, url)
        rss_with = server_rss_mib(url)
        first_ms: list[float] = []
        last_ms: list[float] = []
        snapshot_ms: list[float] = []
        try:
            for version in range(1, paced + 1):
                t0 = await asyncio.to_thread(write, version)
                arrivals = await asyncio.wait_for(
                    asyncio.gather(*(_until(inbox, version) for inbox in inboxes)), TIMEOUT
                )
                seen = await asyncio.to_thread(snapshot.wait_for, _titled(version), TIMEOUT)
                first_ms.append(1000 * (min(arrivals) - t0))
                last_ms.append(1000 * (max(arrivals) - t0))
                if seen is not None:
                    snapshot_ms.append(1000 * (seen - t0))
            received_before = [inbox.qsize() for inbox in inboxes]  # all drained: zeros
            final = paced + burst
            began = time.perf_counter()

            def burst_writes() -> None:
                for version in range(paced + 1, final + 1):
                    write(version)

            await asyncio.to_thread(burst_writes)
            counted = [0] * count

            async def drain(n: int) -> float:
                while True:
                    arrived, data = await inboxes[n].get()
                    counted[n] += 1
                    if data is not None and data["title"] == f"bench {final}":
                        return arrived

            ends = await asyncio.wait_for(
                asyncio.gather(*(drain(n) for n in range(count))), TIMEOUT
            )
            seconds = max(ends) - began
            return {
                "subscribers": count,
                "listeners": listeners,
                "server_rss_mib": rss_with,
                "server_kib_per_subscriber": 1024 * (rss_with - rss_before) / count,
                "first_ms": first_ms,
                "last_ms": last_ms,
                "snapshot_ms": snapshot_ms,
                "burst_writes": burst,
                "burst_seconds": seconds,
                "pushes": sum(counted),
                "pushes_per_s": sum(counted) / seconds if seconds else 0.0,
                "all_on_last_version": len(ends) == count and not any(received_before),
                "versions_skipped": count * burst - sum(counted),
            }
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)

    try:
        return asyncio.run(scenario())
    finally:
        snapshot.close()


def run(
    writes: int,
    warmup: int,
    participants: int,
    subscribers: tuple[int, ...],
    paced: int,
    burst: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Latency (``warmup`` + ``writes`` domain writes), then push at each subscriber count."""
    suite = BenchSuite(sessions_codebase(), only=("firestore", "functions", "auth"))
    log(f"live: starting emulators (log {suite.log_path})")
    suite.start()
    with serving(suite):
        client = firestore.Client(project=suite.project_id)
        members = domain.seed_meeting(client, MEETING, participants)
        token = AuthEmulator(suite.auth_host, suite.project_id).id_token(members[0])
        with live_server(suite.log_path.with_name("live-server.log")) as url:
            log(f"live: server at {url}; latency, {warmup} + {writes} writes")
            result: dict[str, Any] = {
                "participants": participants,
                "writes": writes,
                "warmup": warmup,
                "latency": latency(client, url, token, members, writes, warmup, log),
                "check": _settled_check(client),  # before push writes the view by hand
                "push": [],
            }
            path = f"users/{members[0]}/meetingSessions/{MEETING}"
            for count in subscribers:
                log(f"live: push to {count} subscriber(s), {paced} paced + {burst} burst writes")
                result["push"].append(push(client, url, token, path, count, paced, burst))
            return result
