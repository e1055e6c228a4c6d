"""The Firebase connector: compiled triggers as ``firestore_fn`` functions the Firebase CLI discovers.

In ``functions/main.py``::

    from boiler.functions import export_functions
    from meeting_room import app

    globals().update(export_functions(app))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firebase_functions import firestore_fn

from .app import App
from .compiler import TriggerSpec, compile_app
from .runtime.pipeline import Pipeline


def export_functions(app: App) -> dict[str, Callable[..., Any]]:
    """Compile ``app`` and return ``{function name: deployable function}``."""
    build = compile_app(app)
    return {trigger.name: firestore_trigger(trigger) for trigger in build.triggers}


def firestore_trigger(trigger: TriggerSpec) -> Callable[..., Any]:
    """One ``on_document_written`` function running the boiler pipeline for ``trigger``."""
    pipeline = Pipeline(trigger)

    def handler(event: firestore_fn.Event[Any]) -> None:
        pipeline.handle(event.id, event.document)

    # The Firebase CLI names the deployed function after the wrapped function's __name__.
    handler.__name__ = handler.__qualname__ = trigger.name
    handler.__doc__ = f"Keeps {trigger.view.__name__} in step with {trigger.document}."
    return firestore_fn.on_document_written(document=trigger.document)(handler)
