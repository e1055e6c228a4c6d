"""The hand-written baseline of the HTTP API's view GET: what a developer writes by hand.

``plain_get`` serves ``GET /users/{uid}/meetingSessions/{meetingId}`` the most direct way:
verify the ID token with firebase-admin, check the uid against the path, read the document
with the Firestore client, return its fields as JSON. No ETag, no problem details, no access
evaluator, no model validation. ``plain_ping`` answers ``{}`` and touches nothing: the
functions emulator's own HTTP round trip (the floor).

The API benchmark (``bench/api.py``) serves these beside boiler's ``api`` in one codebase::

    from bench.baseline_functions.api import plain_get, plain_ping
"""

from __future__ import annotations

import json
from typing import Any

import firebase_admin
from firebase_admin import auth
from firebase_functions import https_fn
from google.cloud import firestore

_db: firestore.Client | None = None
_app: Any = None


def db() -> firestore.Client:
    """One client per process, created on first use."""
    global _db
    if _db is None:
        _db = firestore.Client()
    return _db


def admin_app() -> Any:
    """The default firebase-admin app, initialised on first use (project from the environment)."""
    global _app
    if _app is None:
        try:
            _app = firebase_admin.get_app()
        except ValueError:  # not initialised yet
            _app = firebase_admin.initialize_app()
    return _app


def _answer(status: int, body: Any) -> https_fn.Response:
    return https_fn.Response(json.dumps(body), status=status, content_type="application/json")


@https_fn.on_request()
def plain_get(request: https_fn.Request) -> https_fn.Response:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _answer(401, {"error": "sign in"})
    try:
        claims = auth.verify_id_token(token, app=admin_app())
    except (ValueError, auth.InvalidIdTokenError):
        return _answer(401, {"error": "invalid ID token"})
    parts = request.path.strip("/").split("/")
    if len(parts) != 4 or parts[0] != "users" or parts[2] != "meetingSessions":
        return _answer(404, {"error": "not found"})
    if parts[1] != claims["uid"]:
        return _answer(403, {"error": "forbidden"})
    snapshot = db().document("/".join(parts)).get()
    if not snapshot.exists:
        return _answer(404, {"error": "not found"})
    return _answer(200, snapshot.to_dict())


@https_fn.on_request()
def plain_ping(request: https_fn.Request) -> https_fn.Response:
    return _answer(200, {})
