"""``boiler init DIR``: a new project with this repository's layout and a small example app.

The project is written from the template files beside this module (package data, so it works
from an installed wheel too), with the names substituted; boiler itself goes in as a wheel
the project pins (``vendor/boiler-<version>-py3-none-any.whl``), and the generated files
come from boiler's own generators::

    project = create(Path("my-project"))          # app package: my_project
    print(project.summary())
"""

from __future__ import annotations

import importlib
import importlib.util
import keyword
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BoilerError
from .wheel import write_wheel

TEMPLATE = Path(__file__).resolve().parent / "template"
SUFFIX = ".tmpl"  # every template file ends with it: never imported, linted or collected
APP_DIR = "__app__"  # a path part that becomes the app's package name
DOT = "dot-"  # a leading "dot-" becomes "." (package data skips hidden files)
EXECUTABLE = frozenset({"dev", ".ci/run", "scripts/vendor.sh"})
VENDOR = "vendor"
# Package names the project's own code must not shadow.
RESERVED = frozenset({"main", "tests", "functions", "shared", "vendor", "scripts", "conftest"})
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Project:
    """What ``create`` wrote."""

    root: Path
    app_name: str
    project_id: str
    wheel: Path
    files: tuple[str, ...]  # relative POSIX paths, sorted

    def summary(self) -> str:
        return (
            f"wrote {len(self.files)} files to {self.root} (app package {self.app_name}, "
            f"emulator project {self.project_id}, boiler from {self.wheel.relative_to(self.root)})"
            f"\nnext:\n  cd {self.root}\n  ./dev setup   # .venv, Java, the Firestore emulator\n"
            "  ./dev test    # the example app's tests"
        )


def app_name_for(directory: Path) -> str:
    """A Python package name from a directory name: ``my-project`` -> ``my_project``."""
    name = re.sub(r"\W+", "_", directory.name.lower()).strip("_") or "app"
    return f"app_{name}" if name[0].isdigit() else name


def project_id_for(name: str) -> str:
    """An emulator project id (``demo-`` ids never reach a real project): ``demo-my-project``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"
    return f"demo-{slug}"[:30].rstrip("-")


def check_app_name(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or name != name.lower():
        raise BoilerError(
            f"--app-name {name!r} is not a lowercase Python package name; "
            "use letters, digits and underscores, e.g. --app-name my_app",
            code="init-app-name-invalid",
        )
    if name in RESERVED or name in sys.stdlib_module_names or importlib.util.find_spec(name):
        raise BoilerError(
            f"--app-name {name!r} would shadow an existing module of that name; "
            f"choose another, e.g. --app-name {name}_app",
            code="init-app-name-taken",
        )


def create(directory: Path, app_name: str | None = None) -> Project:
    """Write a new project into ``directory`` (new or empty) and return what was written."""
    root = directory.resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise BoilerError(
            f"{directory} is not an empty directory; boiler init writes a new project into a "
            "new or empty directory (it never overwrites files)",
            code="init-directory-not-empty",
        )
    app_name = app_name or app_name_for(root)
    check_app_name(app_name)
    values = {
        "app_name": app_name,
        "project_name": root.name,
        "project_id": project_id_for(root.name),
    }
    root.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the target and moved in at the end: a failure leaves no half project.
    with tempfile.TemporaryDirectory(prefix=f".{root.name}-", dir=root.parent) as scratch:
        staging = Path(scratch)
        wheel = write_wheel(staging / VENDOR)
        values["boiler_wheel"] = wheel.name
        values["boiler_version"] = wheel.name.split("-")[1]
        for source in sorted(TEMPLATE.rglob(f"*{SUFFIX}")):
            target = staging / output_path(source.relative_to(TEMPLATE), app_name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(source.read_text(), values, source))
            if target.relative_to(staging).as_posix() in EXECUTABLE:
                target.chmod(0o755)
        for name, content in generated_files(staging, app_name).items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(content)
        root.mkdir(exist_ok=True)
        for entry in staging.iterdir():
            shutil.move(str(entry), root / entry.name)
    files = tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()))
    return Project(root, app_name, values["project_id"], root / VENDOR / wheel.name, files)


def output_path(template: Path, app_name: str) -> Path:
    """``shared/__app__/__init__.py.tmpl`` -> ``shared/<app>/__init__.py``; ``dot-x`` -> ``.x``."""
    parts = [app_name if part == APP_DIR else part for part in template.parts]
    parts = ["." + part[len(DOT) :] if part.startswith(DOT) else part for part in parts]
    parts[-1] = parts[-1].removesuffix(SUFFIX)
    return Path(*parts)


def render(text: str, values: dict[str, str], source: Path) -> str:
    """Replace each ``{{name}}``; an unknown name is a bug in the template."""

    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise BoilerError(
                f"template {source}: unknown placeholder {match.group(0)}",
                code="init-template-broken",
            )
        return values[match.group(1)]

    return PLACEHOLDER.sub(value, text)


def generated_files(root: Path, app_name: str) -> dict[str, str]:
    """firestore.rules, firestore.indexes.json and openapi.json of the project's app, as
    ``boiler generate`` writes them (the app is imported from ``root/shared``)."""
    from ..cli import generated_files as generate
    from ..cli import load_app
    from ..compiler import compile_app

    shared = str(root / "shared")
    sys.path.insert(0, shared)
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        return generate(compile_app(load_app(app_name)))
    finally:
        sys.dont_write_bytecode = writes_bytecode
        sys.path.remove(shared)
        for module in [m for m in sys.modules if m == app_name or m.startswith(f"{app_name}.")]:
            del sys.modules[module]
