"""The live server as an ASGI application: ``/ws`` (subscriptions), ``/graphql`` (queries,
mutations and subscriptions over the same Service and listeners), ``/healthz``, ``/readyz``.

One application serves one build; its ``Watchers`` registry (one Firestore listener per
watched document) lives from the lifespan's start to its end::

    app = live_app(compile_app(meeting_room.app))
    # uvicorn.run(app) works; boiler.live.server.serve(app) also closes sockets with 1001
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ..api.resources import Resources
from ..api.service import Service
from ..compiler import Build
from ..graphql_schema import graphql_api
from ..runtime import log
from .graphql_app import Connection, graphql_app
from .session import Limits, Session
from .watchers import Watchers

GOING_AWAY, SERVER_ERROR = 1001, 1011
READY_TIMEOUT = 3.0  # seconds /readyz waits for Firestore


@dataclass
class Live:
    """What the application's connections share: the build's resources, the Firestore client,
    the listener registry (set by the lifespan) and the open sessions."""

    resources: Resources
    service: Service
    limits: Limits
    watchers: Watchers | None = None
    sessions: set[Session] = field(default_factory=set)
    graphql_connections: set[Connection] = field(default_factory=set)
    stopping: bool = False

    @property
    def client(self) -> firestore.Client:
        return self.service.client

    async def close_all(self, reason: str = "the server is shutting down") -> None:
        """Close every socket with 1001 and release every listener (graceful shutdown)."""
        self.stopping = True
        await asyncio.gather(
            *(session.close(GOING_AWAY, reason) for session in self.sessions),
            *(connection.close(GOING_AWAY, reason) for connection in self.graphql_connections),
        )
        if self.watchers is not None:
            await self.watchers.close()


def live_app(
    build: Build,
    client: firestore.Client | None = None,
    *,
    limits: Limits | None = None,
) -> Starlette:
    """The live server for ``build``'s views; ``client`` defaults to the process's Firestore
    client (the emulator when ``FIRESTORE_EMULATOR_HOST`` is set).

    >>> app = live_app(compile_app(meeting_room.app))
    >>> app.state.live.watchers is None  # until the lifespan starts
    True
    """
    live = Live(Resources.of(build), Service(client), limits or Limits())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        live.watchers = Watchers(live.client, asyncio.get_running_loop())
        yield
        await live.close_all()

    async def websocket(socket: WebSocket) -> None:
        if live.watchers is None or live.stopping:
            await socket.close(GOING_AWAY if live.stopping else SERVER_ERROR, "not serving")
            return
        await socket.accept()
        session = Session(
            socket,
            resources=live.resources,
            service=live.service,
            watchers=live.watchers,
            limits=live.limits,
        )
        live.sessions.add(session)
        try:
            await session.run()
        except Exception as failure:
            log.error("live-session-failed", error=repr(failure))
            await session.close(SERVER_ERROR, "internal error; it is logged")
        finally:
            live.sessions.discard(session)

    async def healthz(request: Request) -> JSONResponse:
        listeners = live.watchers.listener_count if live.watchers else 0
        return JSONResponse(
            {"status": "alive", "connections": len(live.sessions), "listeners": listeners}
        )

    async def readyz(request: Request) -> JSONResponse:
        try:
            await asyncio.wait_for(asyncio.to_thread(_probe, live.client), READY_TIMEOUT)
        except Exception as failure:
            return JSONResponse({"status": "unavailable", "error": repr(failure)}, 503)
        return JSONResponse({"status": "ready"})

    graphql = graphql_app(live, graphql_api(build))
    app = Starlette(
        routes=[
            WebSocketRoute("/ws", websocket),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )
    app.state.live = live
    return app


def _probe(client: firestore.Client) -> Any:
    """One cheap read: Firestore answers (a missing document is an answer)."""
    return client.document("_boilerLive/ready").get(retry=None, timeout=READY_TIMEOUT)
