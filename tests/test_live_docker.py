"""The live server's Dockerfile, checked statically (Docker is not available in CI): its base
image is pinned, it installs the repository's pins, and the command it runs starts."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _pins(lines: list[str]) -> dict[str, str]:
    found = (re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s;#]+)", line) for line in lines)
    return {m.group(1).lower(): m.group(2) for m in found if m}


def test_the_base_image_is_an_exact_python_311_slim() -> None:
    base = re.search(r"^FROM (\S+)$", DOCKERFILE, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), base


def test_it_installs_the_pinned_live_extra_with_the_requirements_pins() -> None:
    assert 'pip install --no-cache-dir ".[live]"' in DOCKERFILE
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = _pins(project["dependencies"] + project["optional-dependencies"]["live"])
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert installed.keys() >= {"starlette", "uvicorn", "websockets", "google-cloud-firestore"}
    assert {name: requirements.get(name) for name in installed} == installed
    functions = _pins((ROOT / "functions" / "requirements.txt").read_text().splitlines())
    assert not {"starlette", "uvicorn", "websockets"} & functions.keys()  # never deployed there


def test_the_command_serves_the_app_on_port() -> None:
    command = re.search(r'^CMD \["sh", "-c", "exec (.+)"\]$', DOCKERFILE, re.MULTILINE)
    assert command, "CMD must exec the server, so it gets SIGTERM"
    arguments = command.group(1).split()
    assert arguments[:3] == ["python", "-m", "boiler.live"] and "${PORT:-8080}" in arguments
    assert "COPY shared/ shared/" in DOCKERFILE and "PYTHONPATH=/srv/shared" in DOCKERFILE
    # The module and the app it names import (with shared/ on the path, as in the image).
    help_text = subprocess.run(
        [sys.executable, "-m", "boiler.live", "--help"],
        env={"PYTHONPATH": str(ROOT / "shared")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "--app" in help_text and "--port" in help_text
    app = arguments[arguments.index("--app") + 1]
    check = f"import boiler.cli as c, boiler.live; c.load_app({app!r})"
    subprocess.run(
        [sys.executable, "-c", check], env={"PYTHONPATH": str(ROOT / "shared")}, check=True
    )
