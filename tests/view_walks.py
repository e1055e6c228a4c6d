"""Helpers shared by the tests of key walks (migrate, rebuild) and of the distributed rebuild."""

from __future__ import annotations

from typing import Any

import pytest
from boiler.runtime import key_walk
from google.cloud import firestore


def spy_on_batches(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The key batches a walk hands to reconcile, recorded as they go."""
    calls: list[list[str]] = []
    real = key_walk.reconcile

    def recording(view: Any, client: Any, keys: Any = None, **options: Any) -> Any:
        calls.append(list(keys))
        return real(view, client, keys, **options)

    monkeypatch.setattr(key_walk, "reconcile", recording)
    return calls


def damage_sessions(db: firestore.Client) -> None:
    """Two meeting-session copies deleted, one changed, one left over for a user not in the
    meeting: (wrong, missing, extra) = (1, 2, 1) against the oracle."""
    copies = sorted(s.reference.path for s in db.collection_group("meetingSessions").stream())
    db.document(copies[0]).delete()
    db.document(copies[1]).delete()
    db.document(copies[2]).update({"title": "tampered"})
    orphan = copies[3].split("/")
    orphan[1] = "nobody"
    db.document("/".join(orphan)).set({"title": "left over"})
