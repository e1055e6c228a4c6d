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
from .compiler import CommandTriggerSpec, TriggerSpec, compile_app
from .runtime.commands import CommandRunner
from .runtime.pipeline import Pipeline


def export_functions(app: App) -> dict[str, Callable[..., Any]]:
    """Compile ``app`` and return ``{function name: deployable function}``."""
    build = compile_app(app)
    functions = {trigger.name: firestore_trigger(trigger) for trigger in build.triggers}
    functions.update({spec.name: command_trigger(spec) for spec in build.commands})
    return functions


def firestore_trigger(trigger: TriggerSpec) -> Callable[..., Any]:
    """One ``on_document_written`` function running the boiler pipeline for ``trigger``."""
    pipeline = Pipeline(trigger)

    def handler(event: firestore_fn.Event[Any]) -> None:
        pipeline.handle(event.id, event.document)

    # The Firebase CLI names the deployed function after the wrapped function's __name__.
    handler.__name__ = handler.__qualname__ = trigger.name
    handler.__doc__ = f"Keeps {trigger.view.__name__} in step with {trigger.document}."
    return firestore_fn.on_document_written(document=trigger.document)(handler)


def command_trigger(spec: CommandTriggerSpec) -> Callable[..., Any]:
    """One ``on_document_created`` function applying each new ``spec.command`` document once."""
    runner = CommandRunner(spec.command, name=spec.name)

    def handler(event: firestore_fn.Event[Any]) -> None:
        runner.handle(event.id, event.document)

    handler.__name__ = handler.__qualname__ = spec.name
    handler.__doc__ = f"Applies {spec.command.__name__} documents created at {spec.document}."
    return firestore_fn.on_document_created(document=spec.document)(handler)
