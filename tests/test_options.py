"""Runtime options (runtime/options.py) and the module seams around them; pure, no server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from boiler import compile_app
from boiler.connectors.firebase import export_functions
from boiler.runtime import bookkeeping
from boiler.runtime.command_runner import CommandRunner
from boiler.runtime.options import Options
from boiler.runtime.pipeline import Pipeline
from meeting_room import AttendanceRequest, app

BUILD = compile_app(app)
SHARED = Path(__file__).resolve().parent.parent / "shared"


def test_production_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOILER_MAX_RETRIES", raising=False)
    pipeline = Pipeline(BUILD.trigger("meeting_session_on_ticket"))
    assert (pipeline.group_size, pipeline.max_retries) == (25, 8)
    assert pipeline.options.faults is None and pipeline.options.serialize_local_events
    assert CommandRunner(AttendanceRequest).max_retries == 8


@pytest.mark.parametrize("platform_retries", [True, False])
def test_the_deploy_manifest_carries_platform_retries_for_every_firestore_trigger(
    platform_retries: bool,
) -> None:
    """What the Firebase CLI reads (``/__/functions.yaml``, served by firebase-functions):
    ``eventTrigger.retry`` for each trigger and command; the task function keeps its own
    retry config."""
    from firebase_functions.private.serving import functions_as_yaml

    functions = export_functions(app, options=Options(platform_retries=platform_retries))
    manifest = yaml.safe_load(functions_as_yaml(functions))["endpoints"]
    triggers = {name: e for name, e in manifest.items() if "eventTrigger" in e}
    expected = {t.name for t in BUILD.triggers} | {c.name for c in BUILD.commands}
    assert set(triggers) == expected
    assert {e["eventTrigger"]["retry"] for e in triggers.values()} == {platform_retries}
    assert "taskQueueTrigger" in manifest["boilerRedrive"]
    assert Options(platform_retries=platform_retries).write_ahead is not platform_retries


def test_max_retries_default_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOILER_MAX_RETRIES", "3")
    assert Options().max_retries == 3
    assert Options(max_retries=5).max_retries == 5


def test_options_are_frozen_and_keyword_only() -> None:
    options = Options(group_size=4, serialize_local_events=False)
    with pytest.raises(AttributeError):
        options.group_size = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        Options(4)  # type: ignore[misc]
    pipeline = Pipeline(BUILD.trigger("meeting_session_on_user"), options=options)
    assert (pipeline.group_size, pipeline.options.serialize_local_events) == (4, False)


def test_export_functions_takes_options() -> None:
    functions = export_functions(app, options=Options(group_size=1))
    assert "boilerRedrive" in functions and "meeting_session_on_ticket" in functions


def test_durable_does_not_import_the_pipeline() -> None:
    """Write-ahead and hand-off need neither the pipeline nor redriving (no import cycle)."""
    code = (
        "import sys, boiler.runtime.durable, boiler.runtime.pipeline;"
        "import boiler.runtime.command_runner;"
        "assert 'boiler.runtime.redrive' not in sys.modules, 'redrive imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(SHARED)})
    source = (SHARED / "boiler/runtime/durable.py").read_text()
    assert "from .pipeline" not in source and "import pipeline" not in source


def test_one_shape_for_pending_entries_and_redrive_tasks() -> None:
    entry = bookkeeping.work_fields(bookkeeping.COMMAND, "apply_x", "e1", "users/u1/x/r1")
    work = bookkeeping.PendingWork.of(entry)
    assert (work.kind, work.function, work.event_id, work.document) == (
        "command",
        "apply_x",
        "e1",
        "users/u1/x/r1",
    )
    assert bookkeeping.PendingWork.of({}).kind == bookkeeping.VIEW
