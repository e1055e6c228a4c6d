"""The Firebase connector: compiled triggers as functions the Firebase CLI discovers.

In ``functions/main.py``::

    from boiler.connectors.firebase import export_functions
    from meeting_room import app

    globals().update(export_functions(app))

Tests and benchmarks pass their knobs (fault hook, group size, ...) the same way::

    functions = export_functions(app, options=Options(group_size=1, faults=hook))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firebase_functions import firestore_fn, tasks_fn
from firebase_functions.options import RateLimits, RetryConfig

from ..app import App
from ..compiler import Build, CommandTriggerSpec, TriggerSpec, compile_app
from ..runtime import durable, rebuild_distributed
from ..runtime.bookkeeping import PendingWork
from ..runtime.client import firestore_client
from ..runtime.command_runner import CommandRunner
from ..runtime.options import Options
from ..runtime.redrive import redrive
from ..runtime.tally_pipeline import pipeline_for


def export_functions(app: App, options: Options | None = None) -> dict[str, Callable[..., Any]]:
    """Compile ``app`` and return ``{function name: deployable function}``.

    ``options`` (default: production's) reach every trigger, command and the redrive task.
    """
    build = compile_app(app)
    options = options or Options()
    functions = {trigger.name: firestore_trigger(trigger, options) for trigger in build.triggers}
    functions.update({spec.name: command_trigger(spec, options) for spec in build.commands})
    if build.triggers or build.commands:
        functions[durable.TASK_FUNCTION] = redrive_task(build, options)
    if build.app.views:
        functions[rebuild_distributed.TASK_FUNCTION] = rebuild_task(build)
    return functions


def redrive_task(build: Build, options: Options | None = None) -> Callable[..., Any]:
    """The durable path's task-queue function: redoes an event a trigger or command could not
    finish, dispatched by the task's ``kind`` ("view" or "command").

    Raising makes Cloud Tasks retry it with backoff; the work is state-based (views) or
    guarded by the command's status, so a retry (or a late original delivery) applies the
    event at most once.
    """

    def handler(request: tasks_fn.CallableRequest[Any]) -> None:
        work = PendingWork.of(request.data)
        redrive(build, work.function, work.event_id, work.document, kind=work.kind, options=options)

    handler.__name__ = handler.__qualname__ = durable.TASK_FUNCTION
    return tasks_fn.on_task_dispatched(
        retry_config=RetryConfig(
            max_attempts=durable.TASK_RETRY_ATTEMPTS,
            min_backoff_seconds=durable.TASK_MIN_BACKOFF_SECONDS,
            max_backoff_seconds=durable.TASK_MAX_BACKOFF_SECONDS,
        ),
        rate_limits=RateLimits(max_concurrent_dispatches=10),
    )(handler)


def rebuild_task(
    build: Build, max_concurrent_shards: int = rebuild_distributed.SHARD_CONCURRENCY
) -> Callable[..., Any]:
    """``boiler rebuild --distributed``'s task-queue function: reconciles one shard of a
    view's keys (runtime/rebuild_distributed.py). Raising makes Cloud Tasks retry the shard;
    reconcile is state-based, so a retry or a duplicate delivery is harmless.

    ``max_concurrent_shards`` caps the instances at work at once (Cloud Tasks' rate limit):
    Firestore's write ramp, or a small machine running the emulators, may want fewer.
    """

    def handler(request: tasks_fn.CallableRequest[Any]) -> None:
        rebuild_distributed.run_shard(build, request.data, firestore_client())

    handler.__name__ = handler.__qualname__ = rebuild_distributed.TASK_FUNCTION
    return tasks_fn.on_task_dispatched(
        retry_config=RetryConfig(max_attempts=5, min_backoff_seconds=5, max_backoff_seconds=300),
        rate_limits=RateLimits(max_concurrent_dispatches=max_concurrent_shards),
        timeout_sec=540,
    )(handler)


def firestore_trigger(trigger: TriggerSpec, options: Options | None = None) -> Callable[..., Any]:
    """One ``on_document_written`` function running the boiler pipeline for ``trigger``."""
    pipeline = pipeline_for(trigger, options=options)

    def handler(event: firestore_fn.Event[Any]) -> None:
        pipeline.handle(event.id, event.document)

    # The Firebase CLI names the deployed function after the wrapped function's __name__.
    handler.__name__ = handler.__qualname__ = trigger.name
    handler.__doc__ = f"Keeps {trigger.view.__name__} in step with {trigger.document}."
    function = firestore_fn.on_document_written(document=trigger.document)(handler)
    return with_platform_retries(function, options or Options())


def command_trigger(spec: CommandTriggerSpec, options: Options | None = None) -> Callable[..., Any]:
    """One ``on_document_created`` function applying each new ``spec.command`` document once."""
    runner = CommandRunner(spec.command, name=spec.name, options=options)

    def handler(event: firestore_fn.Event[Any]) -> None:
        runner.handle(event.id, event.document)

    handler.__name__ = handler.__qualname__ = spec.name
    handler.__doc__ = f"Applies {spec.command.__name__} documents created at {spec.document}."
    function = firestore_fn.on_document_created(document=spec.document)(handler)
    return with_platform_retries(function, options or Options())


def with_platform_retries(function: Callable[..., Any], options: Options) -> Callable[..., Any]:
    """Deploy ``function`` with ``retry: true`` when ``options.platform_retries``.

    The Python SDK's Firestore decorators have no ``retry`` keyword, but the manifest the
    Firebase CLI reads (``/__/functions.yaml``) carries ``eventTrigger.retry`` for each one, and
    the CLI deploys it as the trigger's retry policy: a dying invocation is then delivered
    again. The handlers never raise for a bad event (it is recorded and held back), so only
    an invocation that could not finish or hand its work off is retried.
    """
    if options.platform_retries:
        function.__firebase_endpoint__.eventTrigger["retry"] = True  # type: ignore[attr-defined]
    return function
