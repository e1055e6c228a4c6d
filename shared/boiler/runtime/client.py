"""One Firestore client per process, created on first use (not at import, not per event)."""

from __future__ import annotations

import os
import threading
from typing import Any

from google.cloud import firestore

from ..paths import PathTemplate

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


def documents_of(client: firestore.Client, template: PathTemplate) -> Any:
    """A query over every document ``template`` can name: its collection when top-level,
    else the collection group (filter by ``template.match`` where other paths share the id)."""
    if len(template.segments) == 2:
        return client.collection(template.segments[0])
    return client.collection_group(template.segments[-2])


def use_client(client: firestore.Client | None) -> None:
    """Point the runtime at a given client (tests, benchmarks, scripts); ``None`` resets."""
    global _client
    with _lock:
        _client = client
