"""The committed generated files (rules, indexes, openapi.json) are what the declarations give."""

from __future__ import annotations

from pathlib import Path

import pytest
from boiler import compile_app
from boiler.cli import INDEXES_FILE, OPENAPI_FILE, RULES_FILE, generated_files, main
from meeting_room import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", [RULES_FILE, INDEXES_FILE, OPENAPI_FILE])
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
