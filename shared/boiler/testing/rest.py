"""A tiny Firestore REST client that acts as a given user, so security rules apply.

The emulators accept unsigned JWTs (``alg: none``): the uid is taken from ``sub``, custom
claims from the payload. ``Bearer owner`` is admin and bypasses the rules::

    alice = RestClient(emulator.host, "demo-test", uid="alice", claims={"admin": True})
    request = {"meetingId": "m1", "attendance": True}
    response = alice.create("users/alice/attendanceRequests/r1", request)
    assert response.status_code == 200
    assert RestClient(emulator.host, "demo-test").get("users/alice").status_code == 403
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Mapping
from typing import Any

import requests

OWNER = "owner"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(uid: str, project_id: str, claims: Mapping[str, Any] | None = None) -> str:
    """An ``alg: none`` ID token for ``uid`` that the emulators accept."""
    now = int(time.time())
    payload = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "sub": uid,
        "user_id": uid,
        "firebase": {"sign_in_provider": "custom", "identities": {}},
        **(claims or {}),
    }
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."


def encode_value(value: Any) -> dict[str, Any]:
    """A Python value as a Firestore REST ``Value``."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, dt.datetime):
        return {"timestampValue": value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [encode_value(item) for item in value]}}
    if isinstance(value, Mapping):
        return {"mapValue": {"fields": {k: encode_value(v) for k, v in value.items()}}}
    raise TypeError(f"cannot encode {value!r} as a Firestore value")


def decode_value(value: Mapping[str, Any]) -> Any:
    """A Firestore REST ``Value`` as a Python value (timestamps stay ISO strings)."""
    ((kind, inner),) = value.items()
    if kind == "integerValue":
        return int(inner)
    if kind == "arrayValue":
        return [decode_value(item) for item in inner.get("values", [])]
    if kind == "mapValue":
        return {k: decode_value(v) for k, v in inner.get("fields", {}).items()}
    return inner


class RestClient:
    """Firestore over REST as one user (``uid=None``: signed out; ``uid=OWNER``: admin)."""

    def __init__(
        self,
        host: str,
        project_id: str,
        uid: str | None = None,
        claims: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base = f"http://{host}/v1/projects/{project_id}/databases/(default)/documents"
        self.session = requests.Session()
        self.timeout = timeout
        if uid == OWNER:
            self.session.headers["Authorization"] = "Bearer owner"
        elif uid is not None:
            token = unsigned_token(uid, project_id, claims)
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _url(self, path: str) -> str:
        return f"{self.base}/{path.strip('/')}"

    def get(self, path: str) -> requests.Response:
        return self.session.get(self._url(path), timeout=self.timeout)

    def list(self, collection: str) -> requests.Response:
        return self.session.get(self._url(collection), timeout=self.timeout)

    def query(self, collection: str, field: str, value: Any) -> requests.Response:
        """``collection where field == value`` (a structured query on the parent document)."""
        parent, _, collection_id = collection.strip("/").rpartition("/")
        url = f"{self.base}/{parent}:runQuery" if parent else f"{self.base}:runQuery"
        body: dict[str, Any] = {
            "structuredQuery": {
                "from": [{"collectionId": collection_id}],
                "where": {
                    "fieldFilter": {
                        "field": {"fieldPath": field},
                        "op": "EQUAL",
                        "value": encode_value(value),
                    }
                },
            }
        }
        return self.session.post(url, json=body, timeout=self.timeout)

    def create(self, path: str, data: Mapping[str, Any]) -> requests.Response:
        """Create only (fails if the document exists), as a client's ``setDoc`` on a new id."""
        parent, _, document_id = path.strip("/").rpartition("/")
        body = {"fields": {k: encode_value(v) for k, v in data.items()}}
        return self.session.post(
            self._url(parent), params={"documentId": document_id}, json=body, timeout=self.timeout
        )

    def update(self, path: str, data: Mapping[str, Any]) -> requests.Response:
        """Replace the fields named in ``data`` of an existing document."""
        body = {"fields": {k: encode_value(v) for k, v in data.items()}}
        params = [("updateMask.fieldPaths", name) for name in data] + [
            ("currentDocument.exists", "true")
        ]
        return self.session.patch(self._url(path), params=params, json=body, timeout=self.timeout)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self._url(path), timeout=self.timeout)

    @staticmethod
    def fields(response: requests.Response) -> dict[str, Any]:
        """The decoded fields of a document response."""
        return {k: decode_value(v) for k, v in response.json().get("fields", {}).items()}
