"""``boiler init``: the real CLI writes a project into a temporary directory, and that
project's own README commands set it up and pass its tests, with boiler installed from the
wheel the project pins (nothing from this checkout: no PYTHONPATH, not our .venv).

The project's setup is a fresh venv from its requirements.txt (pip, from the machine's pip
cache): most of this module's time. Later steps reuse that venv, as a developer would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from boiler import cli

ROOT = Path(__file__).resolve().parent.parent
WHEEL = "boiler-0.1.0-py3-none-any.whl"
SETUP_TIMEOUT = 900.0  # a fresh venv: ~1 min on a quiet machine, several under heavy load
STEP_TIMEOUT = 300.0
# Where this checkout's environment points a process; the project must not see any of it.
FOREIGN_ENV = (
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "BOILER_PROJECT_DIR",
    "FIRESTORE_EMULATOR_HOST",
    "FIREBASE_AUTH_EMULATOR_HOST",
    "GCLOUD_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
    "PYTEST_ADDOPTS",
    "PYTEST_CURRENT_TEST",
)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    ours = str(ROOT)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ours not in p)
    return env


def boiler_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """This checkout's CLI, as `python -m boiler` (boiler from shared/)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared")}
    return subprocess.run(
        [sys.executable, "-m", "boiler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )


def run(command: list[str], cwd: Path, timeout: float = STEP_TIMEOUT) -> str:
    """Run a command of the project in its directory; its stdout, or fail with its output."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-6000:]}"
    return done.stdout


@dataclass(frozen=True)
class Project:
    root: Path
    init_output: str


def init_and_set_up(parent: Path) -> Project:
    """`boiler init my-board`, then the README's first command, `./dev setup`."""
    done = boiler_cli("init", "my-board", cwd=parent)
    assert done.returncode == 0, done.stderr
    root = parent / "my-board"
    run(["./dev", "setup"], root, timeout=SETUP_TIMEOUT)
    return Project(root, done.stdout)


_PREPARED: Future[Project] | None = None


def prepare_in_background() -> None:
    """conftest calls this once the module is collected: the project's fresh venv (pip,
    ~30 s) is built while the tests before this module run."""
    global _PREPARED
    parent = Path(tempfile.mkdtemp(prefix="boiler-init-"))
    _PREPARED = ThreadPoolExecutor(1, thread_name_prefix="init").submit(init_and_set_up, parent)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    if _PREPARED is None:  # not collected by a session (e.g. imported alone)
        yield init_and_set_up(tmp_path_factory.mktemp("init"))
        return
    prepared = _PREPARED.result()  # its failure, if any, is this fixture's
    try:
        yield prepared
    finally:
        shutil.rmtree(prepared.root.parent, ignore_errors=True)


def test_init_writes_the_layout(project: Project) -> None:
    root = project.root
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    written = {f for f in files if not f.startswith((".venv/", ".boiler/"))}
    assert written >= {
        ".ci/run",
        ".gitignore",
        "README.md",
        "dev",
        "firebase.json",
        "firestore.indexes.json",
        "firestore.rules",
        "functions/main.py",
        "functions/requirements.txt",
        "openapi.json",
        "package.json",
        "pyproject.toml",
        "requirements.txt",
        "scripts/vendor.sh",
        "shared/my_board/__init__.py",
        "tests/test_app.py",
        f"vendor/{WHEEL}",
    }
    assert "my_board" in project.init_output and "./dev test" in project.init_output
    for name in (".ci/run", "dev", "scripts/vendor.sh"):
        assert os.access(root / name, os.X_OK), name
    for name in written - {f"vendor/{WHEEL}"}:
        assert "{{" not in (root / name).read_text(), f"{name} keeps a template placeholder"
    readme = (root / "README.md").read_text()
    assert "./dev setup" in readme and "./dev test" in readme
    assert "./dev test" in (root / ".ci/run").read_text()
    assert "demo-my-board" in (root / "scripts/up.py").read_text()
    firebase = (root / "firebase.json").read_text()
    assert '"ui": { "enabled": false }' in firebase and "scripts/vendor.sh" in firebase


def test_the_wheel_holds_the_package_its_fixtures_and_the_template(project: Project) -> None:
    with zipfile.ZipFile(project.root / "vendor" / WHEEL) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read("boiler-0.1.0.dist-info/entry_points.txt").decode()
        metadata = wheel.read("boiler-0.1.0.dist-info/METADATA").decode()
    assert {
        "boiler/__init__.py",
        "boiler/testing/pytest_plugin.py",
        "boiler/testing/emulators.py",
        "boiler/scaffold/template/dev.tmpl",
        "boiler/scaffold/template/dot-ci/run.tmpl",
        "boiler/scaffold/template/shared/__app__/__init__.py.tmpl",
    } <= names
    assert not any("__pycache__" in name for name in names)
    assert "pytest11" in entry_points and "boiler = boiler.cli:main" in entry_points
    assert "Requires-Dist: firebase-functions==0.6.0" in metadata


def pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.MULTILINE)
    return {name.lower(): version for name, version in found}


def test_the_project_pins_what_this_repository_pins(project: Project) -> None:
    ours = pins(ROOT / "requirements.txt")
    for requirements in ("requirements.txt", "functions/requirements.txt"):
        theirs = pins(project.root / requirements)
        assert theirs and {n: v for n, v in ours.items() if n in theirs} == theirs, requirements
        lines = (project.root / requirements).read_text().splitlines()
        assert f"./vendor/{WHEEL}" in lines
        # Every line is a comment, the wheel or an exact pin.
        assert all(not line or line[0] == "#" or "==" in line or WHEEL in line for line in lines)
    assert (project.root / "functions/requirements.txt").read_text().count("==") >= 5


def test_the_readme_test_command_passes(project: Project) -> None:
    output = run(["bash", ".ci/run"], project.root, timeout=SETUP_TIMEOUT)
    summary = re.search(r"=+ (\d+) passed(.*) in [\d.]+s", output)
    assert summary, output[-3000:]
    assert int(summary.group(1)) >= 4 and "failed" not in summary.group(2), summary.group(0)
    # boiler came from the pinned wheel, installed in the project's own venv.
    where = run([".venv/bin/python", "-c", "import boiler; print(boiler.__file__)"], project.root)
    assert where.strip().startswith(str(project.root / ".venv" / "lib"))


def test_check_passes_right_after_init(project: Project) -> None:
    """`./dev check`: boiler check (every generated file as the app generates it), ruff."""
    run(["./dev", "check"], project.root)


def test_the_functions_directory_alone_is_deployable(project: Project, tmp_path: Path) -> None:
    """What `firebase deploy` uploads after the predeploy hook: functions/ without venv."""
    run(["bash", "scripts/vendor.sh"], project.root)
    upload = tmp_path / "upload"
    run(["cp", "-r", str(project.root / "functions"), str(upload)], project.root)
    assert (upload / "vendor" / WHEEL).is_file() and (upload / "my_board").is_dir()
    # pip finds every line of requirements.txt from that directory, as Cloud Build runs it
    # (no install; the dependencies' resolution is the one ./dev setup's venv just did).
    pip = [str(project.root / ".venv/bin/python"), "-m", "pip", "install", "--dry-run"]
    pip += ["--no-deps", "--ignore-installed", "--quiet", "--report", "-", "-r", "requirements.txt"]
    report = json.loads(run(pip, upload))
    chosen = {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item for item in report["install"]
    }
    assert chosen["boiler"]["download_info"]["url"] == (upload / "vendor" / WHEEL).as_uri()
    for name, version in pins(upload / "requirements.txt").items():
        assert chosen[name]["metadata"]["version"] == version, name
    # main.py imports the copied app (no ../shared next to the upload) and exports functions.
    probe = "import main; print(sorted(n for n in dir(main) if n.startswith(('apply_', 'api'))))"
    exported = run([str(project.root / ".venv/bin/python"), "-c", probe], upload)
    assert exported.strip() == "['api', 'apply_add_card']"


def test_init_from_the_project_copies_its_pinned_wheel(project: Project, tmp_path: Path) -> None:
    run([str(project.root / ".venv/bin/boiler"), "init", "second"], tmp_path)
    copied = tmp_path / "second" / "vendor" / WHEEL
    assert copied.read_bytes() == (project.root / "vendor" / WHEEL).read_bytes()
    assert (tmp_path / "second/shared/second/__init__.py").is_file()


def test_an_installed_boiler_packs_the_same_wheel_again(project: Project, tmp_path: Path) -> None:
    script = (
        "import sys; from importlib import metadata; from pathlib import Path; "
        "from boiler.scaffold.wheel import repack; "
        "print(repack(metadata.distribution('boiler'), Path(sys.argv[1])))"
    )
    python = str(project.root / ".venv/bin/python")
    packed = Path(run([python, "-c", script, str(tmp_path)], tmp_path).strip())
    with (
        zipfile.ZipFile(packed) as again,
        zipfile.ZipFile(project.root / "vendor" / WHEEL) as first,
    ):
        record = "boiler-0.1.0.dist-info/RECORD"
        assert sorted(again.namelist()) == sorted(first.namelist())
        for name in first.namelist():
            if name != record:
                assert again.read(name) == first.read(name), name
        recorded = {line.split(",")[0] for line in again.read(record).decode().splitlines()}
        assert recorded == set(first.namelist())


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    done = boiler_cli("init", "taken", cwd=tmp_path)
    assert done.returncode == 2
    assert "taken is not an empty directory" in done.stderr
    assert "[init-directory-not-empty]" in done.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no scratch left behind


@pytest.mark.parametrize(
    ("app_name", "message", "code"),
    [
        ("My-App", "not a lowercase Python package name", "init-app-name-invalid"),
        ("json", "would shadow an existing module", "init-app-name-taken"),
    ],
)
def test_init_refuses_a_bad_app_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], app_name: str, message: str, code: str
) -> None:
    assert cli.main(["init", str(tmp_path / "fresh"), "--app-name", app_name]) == 2
    err = capsys.readouterr().err
    assert message in err and f"[{code}]" in err
    assert not (tmp_path / "fresh").exists()


def test_init_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["init", "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "directory" in shown and "--app-name" in shown
