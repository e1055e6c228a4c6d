"""Errors an API request ends in, as RFC 9457 problem details (``application/problem+json``).

>>> error = ApiError(404, "no view document at users/u1/meetingSessions/m9", "not-found")
>>> error.body()["title"]
'Not Found'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"

# Every problem the API answers with, by its ``code`` (docs/api.md lists them, checked by a test).
PROBLEMS: dict[str, tuple[int, str]] = {
    "bad-id": (400, "a path segment is not a valid document id"),
    "bad-json": (400, "the body is not valid JSON"),
    "bad-page-size": (400, "pageSize is not an integer from 1 to 100"),
    "bad-page-token": (400, "pageToken is not one the API returned"),
    "bad-path": (400, "JSON-RPC: params.path is missing or not a path"),
    "bad-wait": (400, "wait is not a number of seconds from 0 to 30"),
    "wrong-resource": (400, "JSON-RPC: the path names another kind of resource than the method"),
    "unauthenticated": (401, "no valid Firebase ID token"),
    "forbidden": (403, "the access declaration forbids it"),
    "not-found": (404, "allowed, but no such document (yet)"),
    "no-route": (404, "nothing is served at this path"),
    "method-not-allowed": (405, "the method is not served here (see the Allow header)"),
    "body-too-large": (413, "the body is over the limit (64 KiB by default)"),
    "not-json": (415, "the body is not sent as application/json"),
    "invalid-command": (422, "the command's fields are invalid; `errors` names each"),
    "internal": (500, "an unexpected error; it is logged"),
    "view-shape-mismatch": (500, "a stored view does not match its model (migrate it)"),
    "auth-unavailable": (503, "the token cannot be checked now (Google's keys unreachable)"),
    "docs-unavailable": (503, "/docs needs the swagger-ui-py package"),
}


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field of a request body: where (``field``, dotted) and why."""

    field: str
    message: str
    type: str = "invalid"

    def body(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.type}


@dataclass
class ApiError(Exception):
    """A request the API refuses or cannot answer; ``status`` is its HTTP status.

    ``code`` is a stable kebab-case name of the problem (an extension member), ``errors``
    the invalid fields of a 422.
    """

    status: int
    detail: str
    code: str = field(default="")
    errors: Sequence[FieldProblem] = field(default=())
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)
        self.code = self.code or HTTPStatus(self.status).phrase.lower().replace(" ", "-")
        if PROBLEMS.get(self.code, (None,))[0] != self.status:
            raise ValueError(
                f"undeclared problem {self.code!r} ({self.status}): add it to PROBLEMS"
            )

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase

    def body(self, instance: str | None = None) -> dict[str, Any]:
        problem: dict[str, Any] = {
            # RFC 9457: "about:blank" types are explained by the status; `code` says which case.
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            problem["instance"] = instance
        if self.errors:
            problem["errors"] = [error.body() for error in self.errors]
        return problem


def unauthenticated(detail: str = "") -> ApiError:
    return ApiError(
        401,
        detail or "sign in: send a Firebase ID token as `Authorization: Bearer <token>`",
        "unauthenticated",
        headers={"WWW-Authenticate": 'Bearer realm="boiler"'},
    )


def forbidden(detail: str) -> ApiError:
    return ApiError(403, detail, "forbidden")


def not_found(detail: str) -> ApiError:
    return ApiError(404, detail, "not-found")


def bad_request(detail: str, code: str) -> ApiError:
    return ApiError(400, detail, code)
