"""Users and real ID tokens from the Firebase Auth emulator, for tests of token-checking code.

The Auth emulator signs users in with unsigned custom tokens (as firebase-admin makes them when
``FIREBASE_AUTH_EMULATOR_HOST`` is set) and issues the same ID tokens a client SDK would get:
``sub`` the uid, custom claims at the top level, ``aud`` the project::

    auth = AuthEmulator(suite.auth_host, suite.project_id)
    token = auth.id_token("u1", claims={"admin": True})
    requests.get(api_url, headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

import requests

# What the Auth emulator requires of a custom token (firebase-admin sets the same audience).
CUSTOM_TOKEN_AUDIENCE = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
)


def _b64(value: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def custom_token(uid: str, claims: Mapping[str, Any] | None = None) -> str:
    """An unsigned (``alg: none``) custom token for ``uid``: only the Auth emulator accepts it.

    >>> custom_token("u1").endswith(".")
    True
    """
    now = int(time.time())
    payload: dict[str, Any] = {"aud": CUSTOM_TOKEN_AUDIENCE, "uid": uid, "iat": now}
    payload["exp"] = now + 3600
    if claims:
        payload["claims"] = dict(claims)
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."


def token_claims(id_token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (to look at what the emulator issued)."""
    payload = id_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


class AuthEmulator:
    """The Auth emulator at ``host`` (``127.0.0.1:PORT``) for project ``project_id``.

    ``id_token`` signs a user in (creating it on first use) and returns its ID token;
    ``reset`` deletes every user of the project.
    """

    def __init__(self, host: str, project_id: str, timeout: float = 10) -> None:
        self.host = host
        self.project_id = project_id
        self.timeout = timeout
        self.session = requests.Session()

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def id_token(
        self, uid: str, claims: Mapping[str, Any] | None = None, project_id: str | None = None
    ) -> str:
        """An ID token for ``uid`` carrying ``claims``, issued by the emulator.

        ``project_id`` other than the emulator's: a token for that project (the emulator issues
        it to its owner), which the first project must refuse.
        """
        body: dict[str, Any] = {"token": custom_token(uid, claims), "returnSecureToken": True}
        headers = {}
        if project_id is not None and project_id != self.project_id:
            body["targetProjectId"] = project_id
            headers["Authorization"] = "Bearer owner"  # only the owner may name a project
        response = self.session.post(
            f"{self.url}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken",
            params={"key": "any"},  # the emulator accepts any API key
            json=body,
            headers=headers,
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"the Auth emulator refused to sign in {uid!r}: "
                f"HTTP {response.status_code} {response.text[:300]}"
            )
        token: str = response.json()["idToken"]
        return token

    def reset(self) -> None:
        """Delete every user of the project."""
        response = self.session.delete(
            f"{self.url}/emulator/v1/projects/{self.project_id}/accounts", timeout=self.timeout
        )
        response.raise_for_status()
