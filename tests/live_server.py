"""A live server for tests: a real uvicorn server on a free port, in a thread of the test
process, serving the meeting-room build against the given Firestore client::

    live = start(db)          # live.url is ws://127.0.0.1:PORT/ws
    ...
    live.stop()

and what the live tests share around it (``LiveWorld``: the suite's Firestore, Auth-emulator
tokens, meetings whose views the triggers built)::

    with live_world(emulator_suite, World) as world:  # World extends LiveWorld
        meeting_id = world.meeting()
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from boiler import compile_app
from boiler.live import Limits, LiveServer, live_app, live_server
from boiler.testing import EmulatorSuite, wait_until
from boiler.testing.auth import AuthEmulator
from google.cloud import firestore
from meeting_room import app as meeting_room

from .meeting_fixtures import create_meeting

BUILD = compile_app(meeting_room)
TIMEOUT = 60


@dataclass
class Running:
    server: LiveServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        assert self.server.address is not None
        return self.server.address

    @property
    def http(self) -> str:
        return self.url.replace("ws://", "http://").removesuffix("/ws")

    @property
    def watchers(self) -> Any:
        return self.server.live.watchers

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(TIMEOUT)


def start(client: firestore.Client, limits: Limits | None = None, port: int = 0) -> Running:
    """A live server on ``port`` (0: a free one), started and answering."""
    server = live_server(live_app(BUILD, client, limits=limits), port=port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.address, timeout=TIMEOUT, message=f"a live server on port {port}")
    return Running(server, thread)


@dataclass
class LiveWorld:
    """The suite's emulators and one live server serving them, with the users' ID tokens."""

    suite: EmulatorSuite
    db: firestore.Client
    auth: AuthEmulator
    live: Running
    tokens: dict[str, str]

    def token(self, uid: str) -> str:
        if uid not in self.tokens:
            self.tokens[uid] = self.auth.id_token(uid)
        return self.tokens[uid]

    def meeting(self) -> str:
        """A meeting of u1 (host), u2 and u3, its views built by the triggers."""
        meeting_id = f"m-{uuid.uuid4().hex[:10]}"
        create_meeting(self.db, meeting_id, {"u1": True, "u2": False, "u3": False})
        wait_until(
            lambda: self.db.document(session("u1", meeting_id)).get().exists,
            timeout=TIMEOUT,
            message="the meeting's views built",
        )
        return meeting_id


def session(uid: str, meeting_id: str) -> str:
    """The path of ``uid``'s MeetingSession view of the meeting."""
    return f"users/{uid}/meetingSessions/{meeting_id}"


World = TypeVar("World", bound=LiveWorld)


@contextlib.contextmanager
def live_world(suite: EmulatorSuite, kind: type[World]) -> Iterator[World]:
    """``kind`` over the suite (emptied first) and a live server, stopped afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in suite.env().items():
            patch.setenv(name, value)
        suite.reset_firestore()
        db = firestore.Client(project=suite.project_id)
        live = start(db)
        try:
            yield kind(suite, db, AuthEmulator(suite.auth_host, suite.project_id), live, {})
        finally:
            live.stop()
