"""`boiler doctor` on this machine (ready) and on a broken set-up (each problem named, with
its fix), run as the installed console script."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOILER = Path(sys.executable).parent / "boiler"


def doctor(root: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path} if path is not None else None
    return subprocess.run(
        [str(BOILER), "doctor", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def findings(output: str) -> dict[str, tuple[str, str]]:
    """check name -> (status, the fix line or "")"""
    found: dict[str, tuple[str, str]] = {}
    last = ""
    for line in output.splitlines():
        if line.startswith(("ok ", "warn ", "FAIL ")):
            status, name = line.split()[:2]
            found[name] = (status, "")
            last = name
        elif line.strip().startswith("fix:") and last:
            found[last] = (found[last][0], line.strip().removeprefix("fix: "))
    return found


def test_this_machine_is_ready() -> None:
    done = doctor(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = findings(done.stdout)
    for name in ("python", "java", "node", "firebase-tools", "functions/venv"):
        assert seen[name][0] == "ok", (name, done.stdout)
    assert "ready;" in done.stdout


def test_a_broken_setup_names_each_problem_and_its_fix(tmp_path: Path) -> None:
    for name in ("package.json", "functions/requirements.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    # A pin nothing installed matches: the set-up is out of date.
    requirements = (ROOT / "requirements.txt").read_text() + "pydantic-core==0.0.1\n"
    (tmp_path / "requirements.txt").write_text(requirements)
    with socket.socket() as taken:  # an emulator port something else holds
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = {"emulators": {"firestore": {"host": "127.0.0.1", "port": port}}}
        (tmp_path / "firebase.json").write_text(json.dumps(config))
        empty_path = tmp_path / "bin"
        empty_path.mkdir()
        done = doctor(tmp_path, path=str(empty_path))  # no node, chromium or curl on PATH

    assert done.returncode == 1, done.stdout + done.stderr
    seen = findings(done.stdout)
    assert seen["python"][0] == "ok"
    packages = next(line for line in done.stdout.splitlines() if "python-packages" in line)
    assert seen["python-packages"] == ("FAIL", "./dev setup") and "pydantic-core" in packages
    assert seen["node"] == (
        "FAIL",
        "install Node.js 20 or newer (https://nodejs.org), then ./dev setup",
    )
    assert seen["firebase-tools"] == ("FAIL", "./dev setup")
    assert seen["functions/venv"] == ("FAIL", "./dev setup")
    assert seen["curl"][0] == "warn" and "install curl" in seen["curl"][1]
    ports = next(line for line in done.stdout.splitlines() if "emulator-ports" in line)
    assert seen["emulator-ports"][0] == "warn" and f"firestore {port}" in ports
    assert "problem(s) to fix" in done.stdout
