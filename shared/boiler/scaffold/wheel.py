"""The running boiler as a wheel file, for a new project to pin (``boiler init``).

Three ways, tried in order:

* from boiler's source tree (this repository; an editable install counts): ``pip wheel
  --no-deps`` of a clean copy of ``pyproject.toml`` and ``shared/boiler``;
* from an installed wheel whose file pip recorded (``direct_url.json``), e.g. the one a
  scaffolded project installs from its ``vendor/``: that file, copied;
* from any other installed wheel: its installed files, packed again with a fresh RECORD.

>>> write_wheel(Path("vendor"))  # doctest: +SKIP
PosixPath('vendor/boiler-0.1.0-py3-none-any.whl')
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.parse
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

from ..errors import BoilerError

DISTRIBUTION = "boiler"
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../boiler
# Bookkeeping pip writes at install time; a wheel does not carry it.
INSTALL_ONLY = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
HOW_TO_GET_ONE = (
    "build one from boiler's source tree (`pip wheel --no-deps /path/to/boiler -w vendor/`) "
    "and install boiler from that wheel, or run `boiler init` from the source tree"
)


def source_tree() -> Path | None:
    """The project directory boiler runs from, when it runs from its source tree."""
    project = PACKAGE_DIR.parent.parent
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file() or PACKAGE_DIR != project / "shared" / "boiler":
        return None
    name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
    return project if name == DISTRIBUTION else None


def write_wheel(destination: Path) -> Path:
    """Write a wheel of the running boiler into ``destination``; return the file's path."""
    destination.mkdir(parents=True, exist_ok=True)
    project = source_tree()
    if project is not None:
        return _pip_wheel(project, destination)
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise BoilerError(
            f"boiler runs from {PACKAGE_DIR}, neither its source tree nor an installed "
            f"distribution, so there is no wheel to give the new project; {HOW_TO_GET_ONE}",
            code="init-no-wheel",
        ) from None
    recorded = _recorded_wheel(dist)
    if recorded is not None:
        return Path(shutil.copy2(recorded, destination / recorded.name))
    return repack(dist, destination)


def _pip_wheel(project: Path, destination: Path) -> Path:
    version = tomllib.loads((project / "pyproject.toml").read_text())["project"]["version"]
    with tempfile.TemporaryDirectory(prefix="boiler-wheel-") as scratch:
        copy = Path(scratch) / "source"
        # A copy: the build's build/ and *.egg-info stay out of the source tree.
        (copy / "shared").mkdir(parents=True)
        shutil.copy2(project / "pyproject.toml", copy / "pyproject.toml")
        shutil.copytree(
            project / "shared" / "boiler",
            copy / "shared" / "boiler",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
        command += ["--disable-pip-version-check", "-w", str(destination), str(copy)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = destination / f"{DISTRIBUTION}-{version}-py3-none-any.whl"
    if done.returncode != 0 or not wheel.is_file():
        raise BoilerError(
            f"`pip wheel` of boiler's source tree {project} failed (exit {done.returncode}):\n"
            f"{done.stderr.strip()}\nFix: make `{sys.executable} -m pip` work (it needs the "
            "package index or pip's cache for setuptools), or " + HOW_TO_GET_ONE,
            code="init-no-wheel",
        )
    return wheel


def _recorded_wheel(dist: metadata.Distribution) -> Path | None:
    """The wheel file pip installed ``dist`` from, if pip recorded it and it still exists."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    url = json.loads(text).get("url", "")
    if not url.startswith("file:"):
        return None
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    expected = f"{DISTRIBUTION}-{dist.version}-"
    if path.suffix != ".whl" or not path.name.startswith(expected) or not path.is_file():
        return None
    return path


def repack(dist: metadata.Distribution, destination: Path) -> Path:
    """Pack an installed (non-editable) distribution's files into a wheel again."""
    files = [
        file
        for file in dist.files or ()
        if file.parts[0] != ".."  # console scripts: the installer makes them from entry points
        and "__pycache__" not in file.parts
        and not (file.parent.name.endswith(".dist-info") and file.name in INSTALL_ONLY)
    ]
    names = {file.as_posix() for file in files}
    if "boiler/__init__.py" not in names:
        raise BoilerError(
            f"the installed boiler ({dist.locate_file('')}) does not list its own files "
            f"(an editable or foreign install?); {HOW_TO_GET_ONE}",
            code="init-no-wheel",
        )
    (info,) = {file.parts[0] for file in files if file.parts[0].endswith(".dist-info")}
    wheel_info = (dist.read_text("WHEEL") or "").splitlines()
    tags = [line.partition(":")[2].strip() for line in wheel_info if line.startswith("Tag:")]
    tag = tags[0] if len(tags) == 1 else "py3-none-any"
    wheel = destination / f"{DISTRIBUTION}-{dist.version}-{tag}.whl"
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(files, key=lambda f: (f.parts[0] == info, f.as_posix())):
            data = Path(str(dist.locate_file(file))).read_bytes()
            archive.writestr(file.as_posix(), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{file.as_posix()},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel
