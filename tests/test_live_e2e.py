"""The live server end to end: a real uvicorn server on a free port, real WebSocket clients
(``websockets``), real ID tokens from the Auth emulator, and the suite's Firestore whose views
the app's triggers (in the functions emulator) keep in step with domain writes and commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from boiler.api.resources import ViewDocument
from boiler.api.service import Service
from boiler.live import Limits
from boiler.testing import EmulatorSuite, wait_until
from boiler.testing.auth import token_claims
from google.cloud import firestore
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .live_server import BUILD, LiveWorld, Running, live_world, session, start

pytestmark = pytest.mark.suite
TIMEOUT = 60  # cold Python workers start on their first event, about 0.5 s each
Message = dict[str, Any]


class World(LiveWorld):
    """The live tests' world, with /ws clients."""

    @contextlib.contextmanager
    def socket(self, uid: str | None = None, url: str | None = None) -> Iterator[ClientConnection]:
        """A connection to the live server, signed in as ``uid`` (None: not signed in)."""
        with connect(url or self.live.url, open_timeout=TIMEOUT) as socket:
            if uid is not None:
                socket.send(json.dumps({"type": "auth", "token": self.token(uid)}))
            yield socket


def send(socket: ClientConnection, **message: Any) -> None:
    socket.send(json.dumps(message))


def expect(
    socket: ClientConnection, matches: Callable[[Message], Any], timeout: float = TIMEOUT
) -> Message:
    """The first message ``matches``; the ones before it are dropped."""
    deadline = time.monotonic() + timeout
    seen: list[Message] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching message in {timeout} s; received {seen}")
        try:
            message: Message = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            continue
        if matches(message):
            return message
        seen.append(message)


def data_of(subscription: str, check: Callable[[Message], Any]) -> Callable[[Message], Any]:
    return lambda m: (
        m["type"] == "snapshot" and m["id"] == subscription and m["data"] and check(m["data"])
    )


def error_for(subscription: str | None, status: int) -> Callable[[Message], bool]:
    return lambda m: m["type"] == "error" and m["id"] == subscription and m["status"] == status


@pytest.fixture(scope="module")
def world(emulator_suite: EmulatorSuite) -> Iterator[World]:
    with live_world(emulator_suite, World) as world:
        yield world


# ============================================================================ subscriptions
def test_a_subscriber_gets_the_view_at_once_then_every_change(world: World) -> None:
    meeting_id = world.meeting()
    path = session("u1", meeting_id)
    with world.socket("u1") as socket:
        send(socket, type="subscribe", id="s1", path=path)
        first = expect(socket, data_of("s1", lambda d: d["meetingId"] == meeting_id))
        # Shaped exactly as the HTTP API's GET returns it (camelCase, the model's fields).
        stored = world.db.document(path).get().to_dict()
        assert first["data"] == BUILD.app.views[0].model_validate(stored).model_dump(
            mode="json", by_alias=True
        )
        assert world.live.watchers.subscriber_count(path) == 1

        world.db.document(f"meetings/{meeting_id}").update({"title": "Renamed"})
        expect(socket, data_of("s1", lambda d: d["title"] == "Renamed"))

        # A command through the real command trigger: u3 attends, u1's view lists u3.
        world.db.document(f"users/u3/attendanceRequests/r-{meeting_id}").set(
            {"meetingId": meeting_id, "attendance": True}
        )
        update = expect(socket, data_of("s1", lambda d: "u3" in [a["uid"] for a in d["attending"]]))
        assert update["data"]["numAttending"] == 2


def test_after_unsubscribe_no_message_comes_and_the_listener_is_released(world: World) -> None:
    meeting_id = world.meeting()
    path = session("u2", meeting_id)
    with world.socket("u2") as socket:
        send(socket, type="subscribe", id="old", path=path)
        expect(socket, data_of("old", lambda d: True))
        send(socket, type="unsubscribe", id="old")
        wait_until(lambda: world.live.watchers.subscriber_count(path) == 0, timeout=10)
        assert path not in world.live.watchers._watches  # the listener itself is closed
        world.db.document(f"meetings/{meeting_id}").update({"title": "After"})
        wait_until(lambda: world.db.document(path).get().to_dict()["title"] == "After", TIMEOUT)
        # Messages on one socket are in order: nothing for "old" may come before "new"'s.
        send(socket, type="subscribe", id="new", path=path)
        received = expect(socket, lambda m: True)
        assert received["id"] == "new" and received["data"]["title"] == "After", received


def test_refusals_are_errors_named_by_status(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    meeting_id = world.meeting()
    watched: list[str] = []
    add = world.live.watchers.add
    monkeypatch.setattr(world.live.watchers, "add", lambda p, s: (watched.append(p), add(p, s)))
    with world.socket("u3") as socket:
        cases = {
            "forbidden": (session("u1", meeting_id), 403),  # u1's view, u3 asks
            "no-route": ("nothing/here", 404),
            "internal-view": (f"meetingCards/{meeting_id}", 404),  # no readable_by
            "collection": ("users/u3/meetingSessions", 404),
            "command": (f"users/u3/attendanceRequests/r-{meeting_id}", 404),
            "domain": (f"meetings/{meeting_id}", 404),
            "bad-id": ("users/u3/meetingSessions/..", 400),
        }
        for subscription, (path, _) in cases.items():
            send(socket, type="subscribe", id=subscription, path=path)
        refused: dict[str, Message] = {}
        while len(refused) < len(cases):
            message = expect(socket, lambda m: m["type"] == "error")
            refused[message["id"]] = message
        # In order: each is refused before any read, no listener opened (the path decides).
        assert {key: m["status"] for key, m in refused.items()} == {
            key: status for key, (_, status) in cases.items()
        }
        assert list(refused) == list(cases)
        assert all(m["message"] and m["code"] for m in refused.values()), refused
        assert watched == []
        # The connection stays usable: its own view comes.
        send(socket, type="subscribe", id="own", path=session("u3", meeting_id))
        expect(socket, data_of("own", lambda d: d["meetingId"] == meeting_id))


def test_no_or_bad_token_is_401_and_the_client_may_sign_in_after(world: World) -> None:
    meeting_id = world.meeting()
    with world.socket() as socket:
        send(socket, type="subscribe", id="early", path=session("u1", meeting_id))
        assert expect(socket, error_for("early", 401))["code"] == "unauthenticated"
        send(socket, type="auth", token="garbage")
        assert expect(socket, error_for(None, 401))["code"] == "unauthenticated"
        other = world.auth.id_token("u1", project_id="demo-another-project")
        send(socket, type="auth", token=other)  # a real token of another project
        expect(socket, error_for(None, 401))
        send(socket, type="auth", token=world.token("u1"))
        send(socket, type="subscribe", id="late", path=session("u1", meeting_id))
        expect(socket, data_of("late", lambda d: True))
        send(socket, type="auth", token=world.token("u2"))  # one user per connection
        assert expect(socket, error_for(None, 400))["code"] == "live-user-changed"


def test_malformed_messages_are_400_and_not_json_closes(world: World) -> None:
    meeting_id = world.meeting()
    with world.socket("u1") as socket:
        send(socket, type="subscribe", id="s1")
        assert expect(socket, error_for("s1", 400))["code"] == "live-bad-message"
        send(socket, type="launch", id="s2")
        expect(socket, error_for("s2", 400))
        send(socket, type="unsubscribe", id="never")
        assert expect(socket, error_for("never", 400))["code"] == "live-unknown-id"
        send(socket, type="subscribe", id="dup", path=session("u1", meeting_id))
        send(socket, type="subscribe", id="dup", path=session("u1", meeting_id))
        assert expect(socket, error_for("dup", 400))["code"] == "live-duplicate-id"
        socket.send("this is not json")
        with pytest.raises(ConnectionClosed):
            expect(socket, lambda m: False, timeout=10)
        assert socket.close_code == 1007 and socket.close_reason


# ============================================================================ limits
@pytest.fixture(scope="module")
def strict(world: World) -> Iterator[Running]:
    """A second server with tight limits, whose clock is 3597 s ahead: the emulator's tokens
    (valid for an hour) expire three seconds after they are issued."""
    limits = Limits(
        max_subscriptions=2,
        max_message_bytes=1024,
        auth_timeout=1.0,
        clock=lambda: time.time() + 3597,
    )
    running = start(world.db, limits)
    yield running
    running.stop()


def test_the_caps_on_subscriptions_and_message_size(world: World, strict: Running) -> None:
    meeting_id = world.meeting()
    with world.socket("u1", strict.url) as socket:
        for n in range(3):
            send(socket, type="subscribe", id=f"s{n}", path=session("u1", meeting_id))
        assert expect(socket, error_for("s2", 400))["code"] == "live-too-many-subscriptions"
        send(socket, type="subscribe", id="x" * 2000, path="a/b")
        with pytest.raises(ConnectionClosed):
            expect(socket, lambda m: False, timeout=10)
        assert socket.close_code == 1009


def test_a_client_that_never_signs_in_is_closed(world: World, strict: Running) -> None:
    with world.socket(None, strict.url) as socket:
        with pytest.raises(ConnectionClosed):
            expect(socket, lambda m: False, timeout=10)
        assert socket.close_code == 1008


def test_subscriptions_end_with_401_when_the_token_expires_unless_refreshed(
    world: World, strict: Running
) -> None:
    meeting_id = world.meeting()
    first = world.auth.id_token("u1")
    with world.socket(None, strict.url) as socket:
        send(socket, type="auth", token=first)
        send(socket, type="subscribe", id="s", path=session("u1", meeting_id))
        expect(socket, data_of("s", lambda d: True))
        fresh = wait_until(
            lambda: (
                (t := world.auth.id_token("u1"))
                and (token_claims(t)["exp"] > token_claims(first)["exp"] and t)
            ),
            timeout=10,
        )
        send(socket, type="auth", token=fresh)
        ended = expect(socket, error_for("s", 401), timeout=10)
        assert ended["code"] == "live-token-expired"
        assert strict.server.live.limits.clock() >= token_claims(fresh)["exp"]  # not the first's
        assert strict.watchers.listener_count == 0


# ============================================================================ fan-in
def test_200_clients_on_one_document_share_one_listener(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One listener for them all, and each version shaped once for them all (not 200 times)."""
    meeting_id = world.meeting()
    path, token = session("u1", meeting_id), world.token("u1")
    shaped: list[str] = []
    view_json = Service.view_json

    def counted(resource: ViewDocument, data: Any) -> str:
        shaped.append(resource.path)
        return view_json(resource, data)

    monkeypatch.setattr(Service, "view_json", staticmethod(counted))

    async def client(ready: asyncio.Queue[int], n: int) -> Message:
        async with connect_async(world.live.url, open_timeout=TIMEOUT) as socket:
            await socket.send(json.dumps({"type": "auth", "token": token}))
            await socket.send(json.dumps({"type": "subscribe", "id": f"c{n}", "path": path}))
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == "snapshot" and message["data"]["title"] != "Everyone":
                    await ready.put(n)
                if message["type"] != "snapshot" or message["data"]["title"] == "Everyone":
                    return message

    async def scenario() -> list[Message]:
        ready: asyncio.Queue[int] = asyncio.Queue()
        clients = [asyncio.create_task(client(ready, n)) for n in range(200)]
        for _ in range(200):
            await asyncio.wait_for(ready.get(), TIMEOUT)
        assert world.live.watchers.listener_count == 1
        assert world.live.watchers.subscriber_count(path) == 200
        assert shaped.count(path) == world.live.watchers._watches[path].latest.number
        health = await asyncio.to_thread(requests.get, f"{world.live.http}/healthz", timeout=10)
        assert health.json()["listeners"] == 1 and health.json()["connections"] >= 200
        await asyncio.to_thread(
            world.db.document(f"meetings/{meeting_id}").update, {"title": "Everyone"}
        )
        return await asyncio.wait_for(asyncio.gather(*clients), TIMEOUT)

    updates = asyncio.run(scenario())
    assert [m["data"]["title"] for m in updates] == ["Everyone"] * 200
    wait_until(lambda: world.live.watchers.listener_count == 0, timeout=10)


# ============================================================================ operations
def test_health_and_readiness(world: World) -> None:
    health = requests.get(f"{world.live.http}/healthz", timeout=10).json()
    assert health["status"] == "alive"
    assert health["listeners"] == world.live.watchers.listener_count
    ready = requests.get(f"{world.live.http}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")  # nothing listens there
        unreachable = start(firestore.Client(project=world.suite.project_id))
    try:
        response = requests.get(f"{unreachable.http}/readyz", timeout=30)
        assert response.status_code == 503 and response.json()["status"] == "unavailable"
        assert requests.get(f"{unreachable.http}/healthz", timeout=10).status_code == 200
    finally:
        unreachable.stop()


def test_sigterm_closes_every_socket_with_1001(world: World) -> None:
    meeting_id = world.meeting()
    env = {**os.environ, **world.suite.env(), "PYTHONPATH": "shared"}
    process = subprocess.Popen(
        [sys.executable, "-m", "boiler.live", "--app", "meeting_room", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=world.suite.root,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("live server: ws://127.0.0.1:"), (line, process.stderr)
        url = line.split(": ", 1)[1].strip()
        stack = contextlib.ExitStack()
        sockets = [stack.enter_context(world.socket("u1", url)) for _ in range(3)]
        for socket in sockets:
            send(socket, type="subscribe", id="s", path=session("u1", meeting_id))
            expect(socket, data_of("s", lambda d: True))
        process.terminate()
        for socket in sockets:
            with pytest.raises(ConnectionClosed):
                expect(socket, lambda m: False, timeout=20)
            assert socket.close_code == 1001 and "shutting down" in (socket.close_reason or "")
        # uvicorn re-raises the signal once it has shut down: the process ends by SIGTERM.
        assert process.wait(20) in (0, -signal.SIGTERM)
        stack.close()
    finally:
        process.kill()
        process.wait()
