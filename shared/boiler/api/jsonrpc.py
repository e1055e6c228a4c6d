"""JSON-RPC 2.0 over the same operations as the REST routes (``POST /rpc``).

Methods: ``view.get {path}``, ``view.list {path, pageSize?, pageToken?}``,
``command.create {path, data, wait?}`` (``path``: the command collection),
``command.get {path}``. A refusal is an error with ``data.status`` the HTTP status REST would
answer (401, 403, 404, 422, ...), ``data.problem`` its problem details::

    >>> rpc.handle(caller, {"jsonrpc": "2.0", "id": 1, "method": "view.get",
    ...                     "params": {"path": "agendas/u1"}})
    {'jsonrpc': '2.0', 'id': 1, 'result': {'uid': 'u1', ...}}
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..runtime import log
from .caller import Caller
from .problems import ApiError
from .resources import CommandCollection, CommandDocument, Resources, ViewCollection, ViewDocument
from .service import DEFAULT_PAGE_SIZE, MAX_WAIT_SECONDS, Service

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700,
    -32600,
    -32601,
    -32602,
    -32603,
)
SERVER_ERROR = -32000  # a refusal of the API itself (401, 403, 404, ...): see data.status
MAX_BATCH = 50
Response = dict[str, Any]


class JsonRpc:
    """Answers one JSON-RPC payload (a call or a batch) for one caller."""

    def __init__(self, resources: Resources, service: Service) -> None:
        self.resources = resources
        self.service = service
        self.methods: dict[str, Callable[[Caller | None, dict[str, Any], float], Any]] = {
            "view.get": self._view_get,
            "view.list": self._view_list,
            "command.create": self._command_create,
            "command.get": self._command_get,
        }

    def handle(self, caller: Caller | None, payload: Any) -> Response | list[Response] | None:
        """The response (a list for a batch); None when nothing is to be answered."""
        if isinstance(payload, list):
            if not payload:
                return error_response(None, INVALID_REQUEST, "an empty batch")
            if len(payload) > MAX_BATCH:
                return error_response(
                    None, INVALID_REQUEST, f"a batch holds at most {MAX_BATCH} calls"
                )
            # Waits in one batch share one budget, so the request ends in time.
            deadline = time.monotonic() + MAX_WAIT_SECONDS
            answers = [self._call(caller, call, deadline) for call in payload]
            replies = [answer for answer in answers if answer is not None]
            return replies or None
        return self._call(caller, payload, time.monotonic() + MAX_WAIT_SECONDS)

    def _call(self, caller: Caller | None, call: Any, deadline: float) -> Response | None:
        if not isinstance(call, dict) or call.get("jsonrpc") != "2.0":
            return error_response(
                None, INVALID_REQUEST, 'a call is an object with "jsonrpc": "2.0"'
            )
        call_id = call.get("id")
        if "id" in call and not _valid_id(call_id):
            return error_response(None, INVALID_REQUEST, "id must be a string, a number or null")
        method, params = call.get("method"), call.get("params", {})
        if not isinstance(method, str):
            return error_response(call_id, INVALID_REQUEST, "method must be a string")
        answer = "id" in call  # without an id the call is a notification: never answered
        if method not in self.methods:
            message = f"no method {method!r}; use one of {sorted(self.methods)}"
            return error_response(call_id, METHOD_NOT_FOUND, message) if answer else None
        if not isinstance(params, dict):
            message = "params must be an object (by name)"
            return error_response(call_id, INVALID_PARAMS, message) if answer else None
        try:
            result = self.methods[method](caller, params, deadline)
        except ApiError as error:
            code = INVALID_PARAMS if error.status in (400, 422) else SERVER_ERROR
            data = {"status": error.status, "problem": error.body()}
            return error_response(call_id, code, error.detail, data) if answer else None
        except Exception as error:  # one failing call must not sink the batch
            log.error("rpc-failed", method=method, error=repr(error))
            message = "internal error; it is logged"
            return error_response(call_id, INTERNAL_ERROR, message) if answer else None
        return {"jsonrpc": "2.0", "id": call_id, "result": result} if answer else None

    # -- methods

    def _view_get(self, caller: Caller | None, params: dict[str, Any], deadline: float) -> Any:
        resource = self._resolve(params, ViewDocument, "a view document path")
        return self.service.get_view(caller, resource)

    def _view_list(self, caller: Caller | None, params: dict[str, Any], deadline: float) -> Any:
        resource = self._resolve(params, ViewCollection, "a view collection path")
        size = params.get("pageSize", DEFAULT_PAGE_SIZE)
        token = params.get("pageToken")
        if isinstance(size, bool) or not isinstance(size, int):
            raise ApiError(400, "pageSize must be an integer", "bad-page-size")
        if token is not None and not isinstance(token, str):
            raise ApiError(400, "pageToken must be a string", "bad-page-token")
        return self.service.list_views(caller, resource, size, token).body()

    def _command_create(
        self, caller: Caller | None, params: dict[str, Any], deadline: float
    ) -> Any:
        resource = self._resolve(params, CommandCollection, "a command collection path")
        wait = params.get("wait", 0)
        if isinstance(wait, bool) or not isinstance(wait, int | float):
            raise ApiError(400, "wait must be a number of seconds", "bad-wait")
        if 0 < wait <= MAX_WAIT_SECONDS:  # out of range: the service says so
            wait = min(wait, max(0.0, deadline - time.monotonic()))
        return self.service.create_command(caller, resource, params.get("data"), wait)

    def _command_get(self, caller: Caller | None, params: dict[str, Any], deadline: float) -> Any:
        resource = self._resolve(params, CommandDocument, "a command document path")
        return self.service.get_command(caller, resource)

    def _resolve(self, params: dict[str, Any], kind: type, what: str) -> Any:
        path = params.get("path")
        if not isinstance(path, str) or not path.strip("/"):
            raise ApiError(400, f"params.path must be {what}", "bad-path")
        resource = self.resources.resolve(path)
        if not isinstance(resource, kind):
            raise ApiError(
                400, f"{path!r} is a {type(resource).__name__}, not {what}", "wrong-resource"
            )
        return resource


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def error_response(call_id: Any, code: int, message: str, data: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": call_id, "error": error}
