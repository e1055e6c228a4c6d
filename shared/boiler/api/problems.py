"""Errors an API request ends in, as RFC 9457 problem details (``application/problem+json``).

>>> error = ApiError(404, "no view document at users/u1/meetingSessions/m9")
>>> error.body()["title"]
'Not Found'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


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
    code: str = ""
    errors: Sequence[FieldProblem] = field(default=())
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)
        self.code = self.code or HTTPStatus(self.status).phrase.lower().replace(" ", "-")

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


def bad_request(detail: str, code: str = "bad-request") -> ApiError:
    return ApiError(400, detail, code)
