"""``python -m boiler.live --app meeting_room [--host H] [--port P]``: serve an app's views.

The port defaults to ``$PORT`` (Cloud Run sets it), else 8080; ``--port 0`` picks a free one.
The first line printed is the address: ``live server: ws://HOST:PORT/ws``.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..cli import load_app
from ..compiler import compile_app
from ..errors import BoilerError
from .app import live_app
from .server import live_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m boiler.live",
        description="Serve an app's views to WebSocket clients (docs/live.md).",
    )
    parser.add_argument("--app", required=True, help="module[:attribute] holding the boiler.App")
    parser.add_argument("--host", default="127.0.0.1", help="interface (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level")
    args = parser.parse_args(argv)
    try:
        build = compile_app(load_app(args.app))
    except BoilerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    def ready(address: str) -> None:
        print(f"live server: {address}", flush=True)

    server = live_server(
        live_app(build), host=args.host, port=args.port, on_ready=ready, log_level=args.log_level
    )
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
