"""The ``boiler`` command as a whole: every subcommand answers ``--help`` with what it does,
and bad usage exits 2 naming the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from boiler.cli import SUBCOMMANDS, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_explains_itself(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith(f"usage: boiler {name}")
    assert " ".join(SUBCOMMANDS[name].help.split()[:4]) in " ".join(out.split())


def test_the_console_script_lists_every_subcommand() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "boiler"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in SUBCOMMANDS)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "the following arguments are required: subcommand"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["generate"], "the following arguments are required: --app"),
        (["rebuild", "--app", "meeting_room", "--shard-keys", "0"], "expected 1..5000"),
    ],
)
def test_bad_usage_exits_2_naming_the_problem(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and says in capsys.readouterr().err


def test_an_app_that_is_not_one_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--app", "json"]) == 2
    assert "expected a boiler.App at json.app [app-not-found]" in capsys.readouterr().err
