"""The API's HTTP surface as plain data in, plain data out (any server can carry it).

Routes (``../shared/DESIGN.md``, "HTTP API"):
- ``GET /v1/{view document}`` (ETag, 304), ``GET /v1/{view collection}?pageSize&pageToken``
- ``POST /v1/{command collection}?wait=S``, ``GET /v1/{command document}``
- ``POST /rpc`` (JSON-RPC 2.0), ``GET /openapi.json``, ``GET /docs``

Every error is ``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..compiler import Build
from ..naming import to_snake
from ..runtime import log
from . import docs
from .caller import Caller, authenticate
from .jsonrpc import PARSE_ERROR, JsonRpc, error_response
from .openapi import openapi_document, render
from .problems import PROBLEM_JSON, ApiError, bad_request
from .resources import CommandCollection, CommandDocument, Resources, ViewCollection, ViewDocument
from .service import DEFAULT_PAGE_SIZE, Service

JSON = "application/json"
MAX_BODY_BYTES = 64 * 1024  # commands are small; the rules' string limits are far below this


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # below the API's base, e.g. "/v1/agendas/u1"
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, **headers: str) -> HttpResponse:
        return cls(status, _dump(value), {"Content-Type": JSON, **headers})

    def decoded(self) -> Any:
        return json.loads(self.body) if self.body else None


class HttpApi:
    """Routes requests to the views and commands of one build."""

    def __init__(
        self,
        build: Build,
        service: Service | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        cors_origins: Sequence[str] = ("*",),
    ) -> None:
        """``cors_origins``: the web origins whose pages may call the API (``"*"``: any; the
        API takes bearer tokens, never cookies, so no page can call it with a user's ambient
        credentials); ``()`` answers no cross-origin request."""
        self.build = build
        self.cors_origins = tuple(cors_origins)
        self.resources = Resources.of(build)
        self.service = service or Service()
        self.rpc = JsonRpc(self.resources, self.service)
        self.max_body_bytes = max_body_bytes

    @functools.cached_property
    def openapi(self) -> bytes:
        return render(openapi_document(self.build)).encode()

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request; never raises (an unexpected error is a logged 500)."""
        try:
            response = self._route(request)
        except ApiError as error:
            response = problem(error, request.path)
        except Exception as error:
            log.error("api-failed", method=request.method, path=request.path, error=repr(error))
            error = ApiError(500, "internal error; it is logged", "internal")
            response = problem(error, request.path)
        return self._with_cors(request, response)

    def _with_cors(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        origin = request.headers.get("origin")
        if origin is None or not ("*" in self.cors_origins or origin in self.cors_origins):
            return response
        headers = {
            "Access-Control-Allow-Origin": "*" if "*" in self.cors_origins else origin,
            "Access-Control-Expose-Headers": "ETag, Location, WWW-Authenticate",
            "Vary": ", ".join(dict.fromkeys([*_split(response.headers.get("Vary")), "Origin"])),
        }
        if request.method.upper() == "OPTIONS":  # a preflight
            headers.update(
                {
                    "Access-Control-Allow-Methods": "GET, POST",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-None-Match",
                    "Access-Control-Max-Age": "3600",
                }
            )
        return HttpResponse(response.status, response.body, {**response.headers, **headers})

    def _route(self, request: HttpRequest) -> HttpResponse:
        path, method = "/" + request.path.strip("/"), request.method.upper()
        if method == "OPTIONS":  # what may be sent here (CORS preflights get more: _with_cors)
            return HttpResponse(204, b"", {"Allow": "GET, POST, OPTIONS"})
        if path == "/openapi.json":
            _allow(method, "GET")
            return HttpResponse(200, self.openapi, {"Content-Type": JSON})
        if path == "/docs":
            _allow(method, "GET")
            if request.path.endswith("/"):  # the page's relative links need <base>/docs
                return HttpResponse(308, b"", {"Location": "../docs"})
            page = docs.page(f"{self.build.app.name} API")
            return HttpResponse(200, page, {"Content-Type": "text/html; charset=utf-8"})
        if path.startswith("/docs/"):
            _allow(method, "GET")
            body, content_type = docs.asset(path.removeprefix("/docs/"))
            cache = "public, max-age=86400"
            return HttpResponse(200, body, {"Content-Type": content_type, "Cache-Control": cache})
        if path == "/rpc":
            _allow(method, "POST")
            return self._rpc(request)
        if path.startswith("/v1/"):
            return self._rest(request, method, path.removeprefix("/v1/"))
        raise ApiError(
            404, f"no route {path!r}: see /openapi.json or /docs for the routes", "no-route"
        )

    def _rest(self, request: HttpRequest, method: str, path: str) -> HttpResponse:
        resource = self.resources.resolve(path)
        if isinstance(resource, CommandCollection):
            _allow(method, "POST")
            caller = _caller(request)
            body = self._json_body(request)
            wait = _number(request.query.get("wait", "0"), "wait")
            outcome = self.service.create_command(caller, resource, body, wait)
            # Relative to the request URL: the API may sit below a prefix (/{project}/{region}/api).
            below = "" if request.path.endswith("/") else resource.path.rsplit("/", 1)[-1] + "/"
            location = f"{below}{outcome['id']}"
            status = 202 if outcome["status"] == "pending" else 200
            return HttpResponse.json(status, outcome, Location=location)
        _allow(method, "GET")
        caller = _caller(request)
        if isinstance(resource, ViewDocument):
            return _with_etag(request, self.service.get_view(caller, resource))
        if isinstance(resource, ViewCollection):
            size = _number(request.query.get("pageSize", str(DEFAULT_PAGE_SIZE)), "pageSize")
            if size != int(size):
                raise bad_request("pageSize must be an integer", "bad-page-size")
            token = request.query.get("pageToken") or None
            page = self.service.list_views(caller, resource, int(size), token)
            return HttpResponse.json(200, page.body(), **_private())
        assert isinstance(resource, CommandDocument)
        return HttpResponse.json(200, self.service.get_command(caller, resource), **_private())

    def _rpc(self, request: HttpRequest) -> HttpResponse:
        caller = _caller(request)
        try:
            payload = self._json_body(request)
        except ApiError as error:
            if error.status != 400:
                raise
            return HttpResponse.json(200, error_response(None, PARSE_ERROR, error.detail))
        answer = self.rpc.handle(caller, payload)
        return HttpResponse(204) if answer is None else HttpResponse.json(200, answer)

    def _json_body(self, request: HttpRequest) -> Any:
        if len(request.body) > self.max_body_bytes:
            raise ApiError(
                413, f"the body is over {self.max_body_bytes} bytes, the limit", "body-too-large"
            )
        content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
        if content_type != JSON and not content_type.endswith("+json"):
            raise ApiError(415, f"send JSON (Content-Type: {JSON}), not {content_type}", "not-json")
        try:
            return json.loads(request.body or b"null", parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError) as error:
            raise bad_request(f"the body is not valid JSON: {error}", "bad-json") from None


def problem(error: ApiError, instance: str) -> HttpResponse:
    headers = {"Content-Type": PROBLEM_JSON, **error.headers}
    return HttpResponse(error.status, _dump(error.body(instance)), headers)


def _caller(request: HttpRequest) -> Caller | None:
    return authenticate(request.headers.get("authorization"))


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ApiError(
            405,
            f"{method} is not allowed here; use {', '.join(allowed)}",
            "method-not-allowed",
            headers={"Allow": ", ".join([*allowed, "OPTIONS"])},
        )


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        code = f"bad-{to_snake(name).replace('_', '-')}"  # pageSize -> bad-page-size
        raise bad_request(f"{name} must be a number, got {text!r}", code)
    return value


def _private() -> dict[str, str]:
    # Answers depend on the caller: shared caches must not keep them; clients revalidate.
    return {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


def _with_etag(request: HttpRequest, view: dict[str, Any]) -> HttpResponse:
    body = _dump(view)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, **_private()}
    if _matches(request.headers.get("if-none-match"), etag):
        return HttpResponse(304, b"", headers)
    return HttpResponse(200, body, {"Content-Type": JSON, **headers})


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of ``If-None-Match`` against the view's ETag."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's json reads NaN and Infinity


def _split(header: str | None) -> list[str]:
    return [item.strip() for item in (header or "").split(",") if item.strip()]


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
