"""A live server for tests: a real uvicorn server on a free port, in a thread of the test
process, serving the meeting-room build against the given Firestore client::

    live = start(db)          # live.url is ws://127.0.0.1:PORT/ws
    ...
    live.stop()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from boiler import compile_app
from boiler.live import Limits, LiveServer, live_app, live_server
from boiler.testing import wait_until
from google.cloud import firestore
from meeting_room import app as meeting_room

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
