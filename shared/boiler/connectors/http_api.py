"""The HTTP connector: the app's views and commands as the https function ``api``.

In ``functions/main.py``, beside the triggers::

    globals().update(export_api(app))

Locally it answers at ``http://127.0.0.1:5001/{project}/us-central1/api`` (``/v1/...``,
``/rpc``, ``/openapi.json``, ``/docs``); deployed, at the function's URL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from firebase_functions import https_fn

from ..api.http import HttpApi, HttpRequest
from ..app import App
from ..compiler import compile_app

FUNCTION_NAME = "api"


def export_api(
    app: App, name: str = FUNCTION_NAME, cors_origins: Sequence[str] = ("*",)
) -> dict[str, Callable[..., Any]]:
    """``{name: https function}`` serving ``app`` (compiled here; nothing else runs at import).

    ``cors_origins``: the web origins allowed to call it from a browser (``HttpApi``).
    """
    api = HttpApi(compile_app(app), cors_origins=cors_origins)

    def handler(request: https_fn.Request) -> https_fn.Response:
        answer = api.handle(
            HttpRequest(
                method=request.method,
                path=request.path,
                query={key: request.args[key] for key in request.args},
                headers={key.lower(): value for key, value in request.headers.items()},
                # At most one byte over the limit: HttpApi answers 413 without reading it all.
                body=request.stream.read(api.max_body_bytes + 1),
            )
        )
        return https_fn.Response(answer.body, status=answer.status, headers=answer.headers)

    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = f"The HTTP API of {app.name!r}: REST, JSON-RPC, OpenAPI and docs."
    return {name: https_fn.on_request()(handler)}
