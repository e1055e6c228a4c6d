"""The live server: view documents pushed to WebSocket clients as they change (docs/live.md).

Needs the ``live`` extra (starlette, uvicorn, websockets); the deployed functions never import it.
"""

from __future__ import annotations

from .app import Live as Live
from .app import live_app as live_app
from .server import LiveServer as LiveServer
from .server import live_server as live_server
from .session import Limits as Limits

__all__ = ["Limits", "Live", "LiveServer", "live_app", "live_server"]
