"""The committed generated files (rules, indexes, openapi.json, the front-end schema and types)
are what the declarations give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from boiler import compile_app
from boiler.cli import (
    GRAPHQL_FILE,
    INDEXES_FILE,
    OPENAPI_FILE,
    RULES_FILE,
    generated_files,
    main,
)
from boiler.frontend_types import SCHEMA_FILE, TYPESCRIPT_FILE
from meeting_room import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "name", [RULES_FILE, INDEXES_FILE, OPENAPI_FILE, SCHEMA_FILE, TYPESCRIPT_FILE, GRAPHQL_FILE]
)
def test_committed_file_matches_declarations(name: str) -> None:
    expected = generated_files(compile_app(app))[name]
    actual = (ROOT / name).read_text()
    assert actual == expected, (
        f"{name} is stale: run `python -m boiler generate --app meeting_room`"
    )


def test_check_passes_on_the_repository() -> None:
    assert main(["check", "--app", "meeting_room", "--root", str(ROOT)]) == 0


def test_generate_then_check_then_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "firebase.json").write_text("{}")
    assert main(["check", "--app", "meeting_room", "--root", str(tmp_path)]) == 1  # missing files
    assert main(["generate", "--app", "meeting_room", "--root", str(tmp_path)]) == 0
    assert main(["check", "--app", "meeting_room", "--root", str(tmp_path)]) == 0
    rules = tmp_path / RULES_FILE
    rules.write_text(rules.read_text().replace("allow create", "allow create, update"))
    capsys.readouterr()
    assert main(["check", "--app", "meeting_room", "--root", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert RULES_FILE in error and INDEXES_FILE not in error
    # The diff shows what drifted: the committed line, then the declarations' line.
    changed = [line for line in error.splitlines() if line.startswith(("-  ", "+  "))]
    assert len(changed) >= 2 and all("allow create" in line for line in changed), error
    assert any(line.startswith("-") and "allow create, update" in line for line in changed)


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        (TYPESCRIPT_FILE, "  attendance: boolean;", "  attendance: string;"),
        (SCHEMA_FILE, '"maxLength": 128', '"maxLength": 64'),
        (GRAPHQL_FILE, "  attendance: Boolean!", "  attendance: String!"),
    ],
)
def test_check_shows_an_edited_frontend_file_as_a_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, old: str, new: str
) -> None:
    """generate makes the front-end files' folders; check prints what an edit changed."""
    (tmp_path / "firebase.json").write_text("{}")
    assert main(["generate", "--app", "meeting_room", "--root", str(tmp_path)]) == 0
    edited = tmp_path / name
    assert old in edited.read_text()
    edited.write_text(edited.read_text().replace(old, new, 1))
    capsys.readouterr()
    assert main(["check", "--app", "meeting_room", "--root", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert f"{edited} differs" in error and f"{name} (committed)" in error
    changed = [line for line in error.splitlines() if line.startswith(("-  ", "+  "))]
    assert [line[0] for line in changed] == ["-", "+"], error  # the committed line, then ours
    assert new in changed[0] and old in changed[1]


def test_the_boiler_console_script_is_installed_and_runs_check() -> None:
    """`./dev setup` installs the package editable: `.venv/bin/boiler` is the CLI."""
    script = Path(sys.executable).parent / "boiler"
    assert script.is_file(), f"{script} is missing: run ./dev setup (pip install -e .)"
    done = subprocess.run(
        [str(script), "check", "--app", "meeting_room", "--root", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "generate" in helped.stdout and "check" in helped.stdout


def test_unknown_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--app", "no_such_module_xyz", "--root", str(ROOT)]) == 2
    assert "no_such_module_xyz" in capsys.readouterr().err


def test_indexes_expire_the_ledger_and_the_command_order_by_ttl() -> None:
    from boiler.indexes import generate_indexes

    overrides = generate_indexes(compile_app(app))["fieldOverrides"]
    ttl = [o for o in overrides if o.get("ttl")]
    assert ttl == [
        {"collectionGroup": group, "fieldPath": "expireAt", "ttl": True, "indexes": []}
        for group in ("_boilerLedger", "_boilerCommandOrder")  # the latter: orders_on commands
    ]
