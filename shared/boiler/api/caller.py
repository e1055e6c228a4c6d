"""Who is calling: a Firebase ID token verified by firebase-admin, or nobody.

With ``FIREBASE_AUTH_EMULATOR_HOST`` set (the emulators), firebase-admin accepts the Auth
emulator's unsigned tokens; deployed, it checks Google's signature, expiry, audience and issuer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..runtime.client import project_id
from .problems import ApiError, unauthenticated

APP_NAME = "boiler-api"  # a firebase-admin app of its own: the user's default app is theirs
_lock = threading.Lock()


@dataclass(frozen=True)
class Caller:
    """A verified caller: ``uid`` and every claim of the token (custom claims included), as
    ``request.auth.token`` holds them in security rules."""

    uid: str
    claims: Mapping[str, Any] = field(default_factory=dict)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is no header.

    >>> bearer_token("Bearer abc")
    'abc'
    """
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("the Authorization header must be `Bearer <Firebase ID token>`")
    return token.strip()


def authenticate(authorization: str | None) -> Caller | None:
    """The caller an ``Authorization`` header names; None without one; 401 if it is invalid."""
    token = bearer_token(authorization)
    if token is None:
        return None
    from firebase_admin import auth  # imported on first use: it costs cold-start time

    try:
        claims = auth.verify_id_token(token, app=_admin_app())
    except auth.CertificateFetchError as error:
        raise ApiError(503, f"cannot check the token now: {error}", "auth-unavailable") from None
    except (ValueError, auth.InvalidIdTokenError) as error:
        # Expired, revoked, malformed, for another project: all say "sign in again".
        raise unauthenticated(f"the ID token is not valid: {error}") from None
    return Caller(uid=claims["uid"], claims=claims)


def _admin_app() -> Any:
    import firebase_admin

    project = project_id()
    name = f"{APP_NAME}-{project}" if project else APP_NAME  # one per project (tests switch)
    with _lock:
        try:
            return firebase_admin.get_app(name)
        except ValueError:
            options = {"projectId": project} if project else None
            return firebase_admin.initialize_app(options=options, name=name)
