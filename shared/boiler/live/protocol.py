"""The live server's JSON messages (docs/live.md, "Protocol"), validated with pydantic.

Client: ``auth`` first, then ``subscribe`` / ``unsubscribe``. Server: ``snapshot`` at once and
on every change, ``error`` for a refused message or an ended subscription::

    >>> parse('{"type": "subscribe", "id": "s1", "path": "agendas/u1"}')
    Subscribe(type='subscribe', id='s1', path='agendas/u1')
    >>> error("s1", 404, "no view at x", "not-found")["status"]
    404
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_MESSAGE_BYTES = 16 * 1024  # a client message is an id and a path: far below this
MAX_ID_CHARS = 128
MAX_PATH_CHARS = 1024


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Auth(_Message):
    """Sign in (first message) or refresh the token before it expires (any time later)."""

    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_BYTES)]


class Subscribe(_Message):
    """Watch the view document at ``path`` under the client's name ``id``."""

    type: Literal["subscribe"]
    id: Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
    path: Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS)]


class Unsubscribe(_Message):
    """Stop the subscription ``id``; no message for it follows."""

    type: Literal["unsubscribe"]
    id: Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]


ClientMessage = Annotated[Auth | Subscribe | Unsubscribe, Field(discriminator="type")]
_CLIENT = TypeAdapter[Auth | Subscribe | Unsubscribe](ClientMessage)


@dataclass
class ProtocolError(Exception):
    """A message the server refuses; ``id`` is the subscription it names, if it names one.

    ``fatal``: the bytes are not a JSON message at all, so the connection is closed (1007).
    """

    message: str
    id: str | None = None
    code: str = "live-bad-message"
    fatal: bool = False


def parse(text: str | bytes) -> Auth | Subscribe | Unsubscribe:
    """One client message, or ``ProtocolError`` (fatal when ``text`` is not JSON)."""
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        message = "not JSON: send JSON text messages"
        raise ProtocolError(message, code="live-not-json", fatal=True) from None
    if not isinstance(value, dict):
        raise ProtocolError("a message is a JSON object with a `type`")
    named = value.get("id")
    try:
        return _CLIENT.validate_python(value)
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc'][1:]) or 'type'}: {issue['msg']}"
            for issue in invalid.errors()
        )
        raise ProtocolError(
            f"invalid message ({problems}); expected auth, subscribe or unsubscribe",
            id=named if isinstance(named, str) else None,
        ) from None


def snapshot(subscription: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """The view document's body as the HTTP API's GET returns it; None: it does not exist."""
    return {"type": "snapshot", "id": subscription, "data": data}


def snapshot_text(subscription: str, data_json: str) -> str:
    """``snapshot`` as sent, around a body already encoded (once for every subscriber)."""
    return f'{{"type":"snapshot","id":{json.dumps(subscription)},"data":{data_json}}}'


def error(subscription: str | None, status: int, message: str, code: str) -> dict[str, Any]:
    """A refusal (``id`` None: about the connection, e.g. a bad token) or an ended subscription.

    ``status`` is the HTTP API's for the same case; ``code`` a stable name (docs/errors.md).
    """
    return {"type": "error", "id": subscription, "status": status, "message": message, "code": code}
