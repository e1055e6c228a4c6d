"""Write a document, then run every trigger of ``build`` the write fires, in-process (the
tests of small declared apps use it; the meeting room's cascade is tests/meeting_lists.py)."""

from __future__ import annotations

import uuid
from typing import Any

from boiler.compiler import Build
from boiler.runtime.tally_pipeline import pipeline_for
from google.cloud import firestore


def write(build: Build, db: firestore.Client, path: str, fields: dict[str, Any] | None) -> None:
    """Set (or, with ``None``, delete) ``path``, then deliver its event to each trigger."""
    if fields is None:
        db.document(path).delete()
    else:
        db.document(path).set(fields)
    for trigger in build.triggers:
        if trigger.source.template.match(path) is not None:
            pipeline_for(trigger, client=db).handle(uuid.uuid4().hex, path)
