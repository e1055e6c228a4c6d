"""One Firestore client per process, created on first use (not at import, not per event)."""

from __future__ import annotations

import os
import threading

from google.cloud import firestore

_lock = threading.Lock()
_client: firestore.Client | None = None


def project_id() -> str | None:
    """The project the functions run in, as the Firebase runtime and emulators announce it."""
    return os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")


def firestore_client() -> firestore.Client:
    """The process-wide client; with FIRESTORE_EMULATOR_HOST set, the emulator as admin."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = firestore.Client(project=project_id())
    return _client


def use_client(client: firestore.Client | None) -> None:
    """Point the runtime at a given client (tests, benchmarks, scripts); ``None`` resets."""
    global _client
    with _lock:
        _client = client
