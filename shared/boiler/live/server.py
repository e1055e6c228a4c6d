"""Running the live server: uvicorn, with a shutdown that says goodbye properly.

On SIGTERM (Cloud Run stopping an instance) or Ctrl-C, every socket is closed with 1001
("going away") and a reason, and every listener released, before uvicorn's own shutdown
(which would close sockets with 1012)::

    server = live_server(live_app(build), host="127.0.0.1", port=0)
    server.run()   # server.address: ws://127.0.0.1:PORT/ws once started
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

from .app import Live


class LiveServer(uvicorn.Server):
    """A uvicorn server for a ``live_app``; ``on_ready`` gets its ``ws://`` address."""

    def __init__(
        self, config: uvicorn.Config, live: Live, on_ready: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(config)
        self.live = live
        self.on_ready = on_ready
        self.address: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.address = f"ws://{host}:{port}/ws"
            if self.on_ready is not None:
                self.on_ready(self.address)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.live.close_all()
        await super().shutdown(sockets)


def live_server(
    app: Starlette,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> LiveServer:
    """A server for ``app`` (port 0: a free one); messages over the app's size cap are
    refused by uvicorn itself (close 1009) before they are buffered."""
    live: Live = app.state.live
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=live.limits.max_message_bytes,
        lifespan="on",
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )
    return LiveServer(config, live, on_ready)
