"""firebase-tools' emulators, generated config: boiler's codebase or the baseline's, never both."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from boiler.testing.emulators import EmulatorSuite, _link_sources

PROJECT_ID = "demo-bench"
BASELINE_SOURCE = "bench/baseline_functions"
# Extra variants (e.g. bench.profile's wrapper codebases): variant -> source dir under the root.
ROOT_SOURCES: dict[str, str] = {}


def functions_config(variant: str, root: Path) -> list[dict[str, Any]]:
    """The ``functions`` section of firebase.json for one variant."""
    if variant == "boiler":
        config = json.loads((root / "firebase.json").read_text())["functions"]
        return [{k: v for k, v in entry.items() if k != "predeploy"} for entry in config]
    if variant == "baseline":
        ensure_baseline_venv(root)
        return [
            {
                "source": BASELINE_SOURCE,
                "codebase": "baseline",
                "runtime": "python311",
                "ignore": ["venv", "__pycache__"],
            }
        ]
    if variant in ROOT_SOURCES:
        return [
            {
                "source": ROOT_SOURCES[variant],
                "codebase": variant.replace("-", ""),
                "runtime": "python311",
                "ignore": ["venv", "__pycache__"],
            }
        ]
    raise ValueError(f"unknown variant {variant!r}")


def ensure_baseline_venv(root: Path) -> None:
    """firebase-tools runs a Python codebase from ``<source>/venv``: reuse functions/venv."""
    link = root / BASELINE_SOURCE / "venv"
    if not link.exists():
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.relpath(root / "functions" / "venv", link.parent))


class BenchSuite(EmulatorSuite):
    """Firestore + Functions emulators (``only`` may add auth) on free ports, running exactly one
    functions codebase."""

    def __init__(
        self, variant: str, only: tuple[str, ...] = ("firestore", "functions"), **kwargs: Any
    ) -> None:
        super().__init__(only=only, project_id=PROJECT_ID, **kwargs)
        self.variant = variant

    def _write_config(self) -> Path:
        path = super()._write_config()
        config = json.loads(path.read_text())
        config["functions"] = functions_config(self.variant, self.root)
        config.pop("hosting", None)
        _link_sources({"functions": config["functions"]}, self.root, path.parent)
        path.write_text(json.dumps(config, indent=2))
        return path


@contextlib.contextmanager
def serving(suite: EmulatorSuite) -> Iterator[EmulatorSuite]:
    """The started ``suite`` with os.environ pointed at it; afterwards the environment is as
    before and the suite stopped (leaked functions workers: no need to wait 20 s for SIGKILL)."""
    saved = {name: os.environ.get(name) for name in suite.env()}
    os.environ.update(suite.env())
    try:
        yield suite
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        suite.stop(timeout=3)


def generated_codebase(variant: str, main_source: str) -> str:
    """A functions codebase under .boiler/run/<variant> whose main.py is ``main_source``, with
    the deployed requirements and functions/venv; registered as ``variant``, which it returns."""
    root = Path(__file__).resolve().parent.parent
    source = Path(".boiler") / "run" / variant
    directory = root / source
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.py").write_text(main_source)
    (directory / "requirements.txt").write_text(
        (root / "functions" / "requirements.txt").read_text()
    )
    venv = directory / "venv"
    if not venv.exists():
        venv.symlink_to(root / "functions" / "venv")
    ROOT_SOURCES[variant] = str(source)
    return variant
