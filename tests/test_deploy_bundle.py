"""Deploy proof: the codebase `firebase deploy` uploads, installed from its requirements.txt
alone, discovered the way firebase-tools discovers Python functions.

1. A copy of the project (firebase.json, scripts/, shared/, functions/ without its venv) runs
   the functions predeploy hook from firebase.json; the repository's functions/ is untouched.
2. The upload is functions/ filtered by firebase.json's ``ignore`` globs (as firebase-tools'
   packageSource does), alone in its own directory: no ``../shared`` for main.py to find.
3. A fresh venv from that requirements.txt (cached under .boiler/deploy-venv, keyed by the
   file's hash) sits at the upload's ``venv``, where firebase-tools activates it.
4. Discovery as firebase-tools 15 runs it (runtimes/python/index.js): ``. venv/bin/activate &&
   python3.11 <firebase_functions>/private/serving.py`` with ADMIN_PORT and the Firebase envs,
   GET ``/__/functions.yaml``, then ``/__/quitquitquit``; the CLI's own ``yamlToBuild`` parses it.

The first run builds the venv (pip: about 25 s from a warm pip cache); later runs take ~3 s.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from boiler import compile_app
from boiler.runtime import durable, rebuild_distributed
from boiler.testing import free_port, wait_until
from meeting_room import app

ROOT = Path(__file__).resolve().parent.parent
FIREBASE_TOOLS = ROOT / "node_modules" / "firebase-tools"
PYTHON_DELEGATE = FIREBASE_TOOLS / "lib/deploy/functions/runtimes/python/index.js"
DISCOVERY = FIREBASE_TOOLS / "lib/deploy/functions/runtimes/discovery/index.js"
VENV_CACHE = ROOT / ".boiler" / "deploy-venv"
PROJECT = "demo-deploy-proof"
# Dev-only (testing, scaffold) or its own container (live): never uploaded, never imported.
NOT_UPLOADED = ("boiler.testing", "boiler.scaffold", "boiler.live")
# firebase-tools gives up after 10 s (FUNCTIONS_DISCOVERY_TIMEOUT); a loaded CI machine gets more.
DISCOVERY_TIMEOUT = 30.0
# packageSource (deploy/functions/prepareFunctionsUpload.js) always adds these to `ignore`.
ALWAYS_IGNORED = ("firebase-debug.log", "firebase-debug.*.log", ".runtimeconfig.json")
FIRESTORE = "google.cloud.firestore.document.v1."
# Delegate.modulesDir: the quotes are part of the shell command firebase-tools runs.
MODULES_DIR_SCRIPT = (
    '"import firebase_functions; import os; print(os.path.dirname(firebase_functions.__file__))"'
)


@dataclass(frozen=True)
class Deploy:
    """What one simulated deploy produced."""

    bundle: Path
    files: frozenset[str]  # the upload, relative POSIX paths
    venv: Path
    python: str  # the binary firebase-tools runs for the runtime, e.g. python3.11
    runtime: str
    modules_dir: Path  # firebase_functions as firebase-tools located it
    manifest_text: str
    cli_build: dict[str, Any]  # firebase-tools' yamlToBuild of the manifest
    imports: dict[str, Any]  # what importing the bundle in its venv found


# --- firebase-tools, read from its installed source -----------------------------------


def firebase_tools_source(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path} is missing. Fix: ./dev setup (runs npm ci)", pytrace=False)
    return path.read_text()


def node(script: str, **env: str) -> Any:
    """Run ``script`` with firebase-tools' modules at hand; its stdout is JSON."""
    binary = shutil.which("node")
    if binary is None:
        pytest.fail("node is not on PATH. Fix: install Node.js >= 20, then ./dev setup")
    done = subprocess.run(
        [binary, "-e", script],
        env={**os.environ, "FIREBASE_TOOLS": str(FIREBASE_TOOLS), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"node failed:\n{done.stderr}"
    return json.loads(done.stdout)


PYTHON_BINARY_JS = """
const ft = process.env.FIREBASE_TOOLS;
const python = require(ft + "/lib/deploy/functions/runtimes/python");
process.stdout.write(JSON.stringify(python.getPythonBinary(process.env.RUNTIME)));
"""

YAML_TO_BUILD_JS = """
const fs = require("fs");
const ft = process.env.FIREBASE_TOOLS;
const yaml = require(require.resolve("yaml", { paths: [ft] }));
const discovery = require(ft + "/lib/deploy/functions/runtimes/discovery");
const api = require(ft + "/lib/api");
const parsed = yaml.parse(fs.readFileSync(process.env.MANIFEST, "utf8"));
const build = discovery.yamlToBuild(
  parsed, process.env.PROJECT, api.functionsDefaultRegion(), process.env.RUNTIME);
process.stdout.write(JSON.stringify(build));
"""


# --- the environment a deployer's shell gives firebase-tools --------------------------


def deployer_env() -> dict[str, str]:
    """This process's environment without what points Python at the repository or a venv
    (pytest runs with PYTHONPATH=shared) or at emulators."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON")
        and key != "VIRTUAL_ENV"
        and not key.endswith("_EMULATOR_HOST")
    }


def run(command: str | list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        command,
        shell=isinstance(command, str),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"{command!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


# --- 1. predeploy on a copy, 2. the upload -------------------------------------------


def run_predeploy(config: dict[str, Any], workdir: Path) -> Path:
    """Run the functions predeploy hook on a copy of the project; return the copy's source."""
    project = workdir / "project"
    project.mkdir()
    shutil.copy2(ROOT / "firebase.json", project / "firebase.json")
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=skip)
    shutil.copytree(ROOT / "shared", project / "shared", ignore=skip)
    shutil.copytree(
        ROOT / config["source"],
        project / config["source"],
        ignore=shutil.ignore_patterns("venv", "__pycache__"),
    )
    source = project / str(config["source"])
    # lifecycleHooks.js: a shell in the project dir, with these three variables.
    env = {
        **deployer_env(),
        "GCLOUD_PROJECT": PROJECT,
        "PROJECT_DIR": str(project),
        "RESOURCE_DIR": str(source),
    }
    hooks = config.get("predeploy", [])
    for command in [hooks] if isinstance(hooks, str) else hooks:
        run(command, cwd=project, env=env)
    return source


def ignored(name: str, globs: list[str]) -> bool:
    """minimatch(path, glob, {matchBase: true, dot: true}) for globs without a slash: the
    glob matches the base name, dot files included."""
    for glob in globs:
        if "/" in glob or "{" in glob:
            pytest.fail(f"ignore glob {glob!r}: this test only mirrors base-name globs; extend it")
    return any(fnmatchcase(name, glob) for glob in globs)


def package(source: Path, globs: list[str], bundle: Path) -> frozenset[str]:
    """Copy what packageSource would zip from ``source`` (ignored directories not entered)."""
    files: list[str] = []
    for directory, subdirectories, names in os.walk(source, followlinks=True):
        subdirectories[:] = sorted(d for d in subdirectories if not ignored(d, globs))
        for name in sorted(names):
            if ignored(name, globs):
                continue
            relative = Path(directory, name).relative_to(source)
            (bundle / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(directory, name), bundle / relative)
            files.append(relative.as_posix())
    return frozenset(files)


# --- 3. the venv -----------------------------------------------------------------------


def deploy_venv(requirements: Path, python: str) -> Path:
    """A venv with ``requirements`` alone, made by ``python``; rebuilt when either changes."""
    digest = hashlib.sha256(python.encode() + b"\0" + requirements.read_bytes()).hexdigest()
    venv = VENV_CACHE / digest[:16]
    done = venv / "boiler-requirements.txt"  # written last: its presence means complete
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    with (VENV_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs build it once
        if done.is_file() and (venv / "bin" / python).exists():
            return venv
        for stale in VENV_CACHE.iterdir():
            if stale.is_dir():
                shutil.rmtree(stale)
        env = deployer_env()
        base = shutil.which(python, path=env.get("PATH"))
        if base is None:
            pytest.fail(f"{python} is not on PATH (firebase.json's runtime needs it)")
        run([base, "-m", "venv", str(venv)], cwd=VENV_CACHE, env=env)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        run(pip + ["--disable-pip-version-check", "-r", str(requirements)], VENV_CACHE, env, 900)
        shutil.copy2(requirements, done)
    return venv


def prebuild_venv() -> None:
    """The venv of functions/requirements.txt, built (or found) ahead of the fixture."""
    (config,) = json.loads((ROOT / "firebase.json").read_text())["functions"]
    python = node(PYTHON_BINARY_JS, RUNTIME=config["runtime"])
    deploy_venv(ROOT / config["source"] / "requirements.txt", python)


_PREBUILT: Future[None] | None = None


def prepare_in_background() -> None:
    """conftest calls this once the module is collected: pip (~25 s on a new machine) works
    while the tests before this module run; the fixture waits for it."""
    global _PREBUILT
    _PREBUILT = ThreadPoolExecutor(1, thread_name_prefix="deploy-venv").submit(prebuild_venv)


# --- 4. discovery ----------------------------------------------------------------------


def activated(bundle: Path, command: str) -> str:
    """runWithVirtualEnv (functions/python.js): ``. "<source>/venv/bin/activate" && command``."""
    return f'. "{bundle / "venv" / "bin" / "activate"}" && {command}'


def serve_admin_and_fetch(bundle: Path, python: str, modules_dir: Path) -> str:
    """serveAdmin + detectFromPort + shutdownAdmin: the manifest text."""
    port = free_port()
    env = {
        **deployer_env(),
        # prepare.js: user envs (none: no functions/.env) + loadFirebaseEnvs + quota project.
        "FIREBASE_CONFIG": json.dumps(
            {"projectId": PROJECT, "storageBucket": f"{PROJECT}.firebasestorage.app"}
        ),
        "GCLOUD_PROJECT": PROJECT,
        "GOOGLE_CLOUD_QUOTA_PROJECT": PROJECT,
        "ADMIN_PORT": str(port),
    }
    base = f"http://127.0.0.1:{port}"
    log = bundle.parent / "admin-server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            activated(bundle, f'{python} "{modules_dir / "private" / "serving.py"}"'),
            shell=True,
            cwd=bundle,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # detached: its own process group, as firebase-tools does
        )

    def manifest() -> tuple[str, int, str] | None:
        if server.poll() is not None:
            return ("exited", server.returncode, "")
        try:
            with urllib.request.urlopen(f"{base}/__/functions.yaml", timeout=5) as response:
                return ("answered", response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return ("answered", error.code, error.read().decode())
        except (urllib.error.URLError, ConnectionError):
            return None  # not listening yet

    try:
        answer = wait_until(
            manifest, timeout=DISCOVERY_TIMEOUT, interval=0.05, message="the admin server"
        )
        assert answer is not None  # wait_until returns a truthy value
        state, status, text = answer
        assert (state, status) == ("answered", 200), (
            f"discovery failed ({state} {status}): {text}\n{log.read_text()}"
        )
        # Read the answer: a client that resets the connection instead skips serving.py's
        # SIGTERM (werkzeug's drain raises before the response's close hook runs).
        with urllib.request.urlopen(f"{base}/__/quitquitquit", timeout=5) as response:
            assert (response.status, response.read()) == (200, b"OK")
        # serving.py answers, then SIGTERMs itself; the CLI force-kills it after 10 s.
        exited = server.wait(timeout=10)
        assert exited in (0, 128 + signal.SIGTERM), log.read_text()
        return text
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- imports of the upload ---------------------------------------------------------------


def module_name(relative: str) -> str:
    parts = relative.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class ImportCollector(ast.NodeVisitor):
    """Every import statement a module can execute (``if TYPE_CHECKING:`` bodies never run)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, tuple[str, ...]]] = []  # (module, names from it)
        self.located: list[str] = []  # find_spec("x") / import_module("x") with a literal name

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        for child in node.orelse if name == "TYPE_CHECKING" else [*node.body, *node.orelse]:
            self.visit(child)
        self.visit(node.test)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, ()) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            module = f"{base}.{module}" if module else base
        self.found.append((module, tuple(alias.name for alias in node.names)))

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        called = function.attr if isinstance(function, ast.Attribute) else None
        called = function.id if isinstance(function, ast.Name) else called
        first = node.args[0] if node.args else None
        if called in {"find_spec", "import_module"} and isinstance(first, ast.Constant):
            self.located.append(str(first.value))
        self.generic_visit(node)


def imports_of(bundle: Path, files: frozenset[str]) -> dict[str, ImportCollector]:
    found = {}
    for relative in sorted(f for f in files if f.endswith(".py")):
        collector = ImportCollector(module_name(relative), relative.endswith("__init__.py"))
        collector.visit(ast.parse((bundle / relative).read_text(), relative))
        found[module_name(relative)] = collector
    return found


def reachable(imports: dict[str, ImportCollector], start: str) -> set[str]:
    """The upload's modules that importing ``start`` can run (imports inside functions too)."""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen or module not in imports:
            continue
        seen.add(module)
        for target, names in imports[module].found:
            parts = target.split(".")
            todo += [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
            todo += [f"{target}.{name}" for name in names]
        todo += imports[module].located
    return seen


IMPORT_CHECK = """
import importlib, importlib.util, json, sys
bundle, request = sys.argv[1], json.load(sys.stdin)
sys.path.insert(0, bundle)
problems = []
for module in request["modules"]:
    try:
        importlib.import_module(module)
    except BaseException as error:
        problems.append(f"import {module}: {error!r}")
for module, names in request["statements"]:
    try:
        imported = importlib.import_module(module)
        for name in names:
            if name != "*" and not hasattr(imported, name):
                importlib.import_module(f"{module}.{name}")
    except BaseException as error:
        statement = f"from {module} import {', '.join(names)}" if names else f"import {module}"
        problems.append(f"{statement}: {error!r}")
for module in request["located"]:
    if importlib.util.find_spec(module) is None:
        problems.append(f"find_spec({module!r}) is None")
files = {
    name: getattr(module, "__file__", None)
    for name, module in sys.modules.items()
    if name.split(".")[0] in request["ours"]
}
print(json.dumps({"problems": problems, "files": files, "executable": sys.executable}))
"""


def check_imports(bundle: Path, venv: Path, files: frozenset[str]) -> dict[str, Any]:
    """Import every module of the upload, and run every import statement the deployed code
    can reach, in the upload's venv."""
    imports = imports_of(bundle, files)
    deployed = reachable(imports, "main")
    request = {
        "modules": sorted(m for m in imports if not m.endswith("__main__")),
        "statements": sorted({s for m in deployed for s in imports[m].found}),
        "located": sorted({name for m in deployed for name in imports[m].located}),
        "ours": sorted({m.split(".")[0] for m in imports}),
    }
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", IMPORT_CHECK, str(bundle)],
        input=json.dumps(request),
        cwd=bundle,
        env=deployer_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {**json.loads(done.stdout), "deployed": sorted(deployed), "collectors": imports}


# --- the fixture: one deploy per module --------------------------------------------------


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deploy]:
    started = time.monotonic()
    delegate = firebase_tools_source(PYTHON_DELEGATE)
    assert '"private", "serving.py"' in delegate and "ADMIN_PORT" in delegate, (
        "firebase-tools no longer starts firebase_functions/private/serving.py with ADMIN_PORT:"
        " update this test to its runtimes/python/index.js"
    )
    assert "/__/quitquitquit" in delegate
    assert "/__/functions.yaml" in firebase_tools_source(DISCOVERY)

    (config,) = json.loads((ROOT / "firebase.json").read_text())["functions"]
    runtime = config["runtime"]
    python = node(PYTHON_BINARY_JS, RUNTIME=runtime)
    before = sorted(p.name for p in (ROOT / config["source"]).iterdir())

    workdir = tmp_path_factory.mktemp("deploy")
    source = run_predeploy(config, workdir)
    upload = workdir / "upload"  # nothing beside the bundle: no ../shared to fall back on
    bundle = upload / "functions"
    globs = [*config.get("ignore", ["node_modules", ".git"]), *ALWAYS_IGNORED]
    files = package(source, globs, bundle)
    shutil.rmtree(workdir / "project")
    assert sorted(upload.iterdir()) == [bundle]
    assert sorted(p.name for p in (ROOT / config["source"]).iterdir()) == before

    if _PREBUILT is not None:
        _PREBUILT.result()  # its failure, if any, is this fixture's
    venv = deploy_venv(bundle / "requirements.txt", python)
    (bundle / "venv").symlink_to(venv, target_is_directory=True)
    built = time.monotonic()

    # Delegate.modulesDir, then serveAdmin / detectFromPort / shutdownAdmin.
    located = run(activated(bundle, f"{python} -c {MODULES_DIR_SCRIPT}"), bundle, deployer_env())
    modules_dir = Path(located.strip())
    manifest_text = serve_admin_and_fetch(bundle, python, modules_dir)
    discovered = time.monotonic()

    manifest_file = workdir / "functions.yaml"
    manifest_file.write_text(manifest_text)
    cli_build = node(
        YAML_TO_BUILD_JS, MANIFEST=str(manifest_file), PROJECT=PROJECT, RUNTIME=runtime
    )
    imports = check_imports(bundle, venv, files)
    print(
        f"deploy proof: bundle + venv {built - started:.1f} s, discovery "
        f"{discovered - built:.1f} s, total {time.monotonic() - started:.1f} s"
    )
    yield Deploy(
        bundle, files, venv, python, runtime, modules_dir, manifest_text, cli_build, imports
    )


# --- the checks ----------------------------------------------------------------------


def test_the_upload_is_main_py_its_requirements_and_the_vendored_packages(deploy: Deploy) -> None:
    assert {"main.py", "requirements.txt"} <= deploy.files
    for vendored in ("boiler", "meeting_room"):
        shared = ROOT / "shared" / vendored
        relative = [p.relative_to(shared) for p in shared.rglob("*.py")]
        expected = {
            f"{vendored}/{r.as_posix()}"
            for r in relative
            if "__pycache__" not in r.parts and f"{vendored}.{r.parts[0]}" not in NOT_UPLOADED
        }
        assert expected <= deploy.files, f"not vendored: {sorted(expected - deploy.files)}"
    assert not any(part in {"venv", "__pycache__"} for f in deploy.files for part in f.split("/"))
    assert not any(f.endswith(".log") for f in deploy.files)


def test_the_upload_holds_no_testing_helpers_and_the_deployed_code_never_imports_them(
    deploy: Deploy,
) -> None:
    assert not (deploy.bundle / "boiler" / "testing").exists()
    assert not (deploy.bundle / "boiler" / "scaffold").exists()
    assert not (deploy.bundle / "boiler" / "live").exists()  # its own container (Dockerfile)
    assert not [f for f in deploy.files if f.startswith("boiler/testing/")]
    collectors = deploy.imports["collectors"]
    reaching: dict[str, list[str]] = {}
    for module in deploy.imports["deployed"]:
        found = collectors[module].found
        names = [*(t for t, _ in found), *(f"{t}.{n}" for t, ns in found for n in ns)]
        names += collectors[module].located
        for name in names:
            if any(name == p or name.startswith(f"{p}.") for p in NOT_UPLOADED):
                reaching.setdefault(module, []).append(name)
    assert reaching == {}, f"deployed modules importing what is not uploaded: {reaching}"
    assert "boiler.runtime.pipeline" in deploy.imports["deployed"]  # the walk follows imports


def test_the_fresh_venv_runs_every_import_the_deployed_code_can_reach(deploy: Deploy) -> None:
    assert deploy.imports["problems"] == []
    located = {n for c in deploy.imports["collectors"].values() for n in c.located}
    assert "swagger_ui" in located  # /docs finds its assets by find_spec, not by an import
    assert deploy.imports["executable"].startswith(str(deploy.venv))
    # The framework and the app come from the upload, never from the repository's shared/.
    outside = {
        name: file
        for name, file in deploy.imports["files"].items()
        if file and not Path(file).is_relative_to(deploy.bundle)
    }
    assert outside == {}
    assert {"main", "boiler", "meeting_room"} <= set(deploy.imports["files"])


def test_discovery_used_the_sdk_of_the_fresh_venv(deploy: Deploy) -> None:
    assert deploy.modules_dir.is_relative_to(deploy.venv)
    assert (deploy.venv / "bin" / deploy.python).exists()  # what `python3.11` runs once activated
    assert deploy.python == f"python3.{deploy.runtime.removeprefix('python3')}"


def test_the_manifest_has_exactly_the_compiled_functions_with_their_triggers(
    deploy: Deploy,
) -> None:
    manifest = yaml.safe_load(deploy.manifest_text)
    assert manifest["specVersion"] == "v1alpha1"
    endpoints = manifest["endpoints"]
    build = compile_app(app)
    assert build.triggers and build.commands
    firestore = {t.name: ("written", t.document) for t in build.triggers}
    firestore |= {c.name: ("created", c.document) for c in build.commands}
    assert len(firestore) == len(build.triggers) + len(build.commands)  # names are unique
    tasks = {durable.TASK_FUNCTION, rebuild_distributed.TASK_FUNCTION}
    assert set(endpoints) == set(firestore) | tasks | {"api"}

    kinds = ("eventTrigger", "taskQueueTrigger", "httpsTrigger", "callableTrigger")
    expected_kind = {name: "eventTrigger" for name in firestore}
    expected_kind |= {name: "taskQueueTrigger" for name in tasks} | {"api": "httpsTrigger"}
    for name, endpoint in endpoints.items():
        assert endpoint["entryPoint"] == name and endpoint["platform"] == "gcfv2"
        assert "runtime" not in endpoint  # the CLI takes it from firebase.json
        assert [k for k in kinds if k in endpoint] == [expected_kind[name]], name

    for name, (change, document) in firestore.items():
        trigger = endpoints[name]["eventTrigger"]
        assert trigger["eventType"] == FIRESTORE + change, name
        patterns = trigger.get("eventFilterPathPatterns", {})
        filters = trigger["eventFilters"]
        where = patterns if "{" in document else filters
        assert where.get("document") == document, name
        assert filters["database"] == filters["namespace"] == "(default)", name
        assert trigger["retry"] is True, name  # with_platform_retries

    task = endpoints[durable.TASK_FUNCTION]["taskQueueTrigger"]
    assert task["retryConfig"] == {
        "maxAttempts": durable.TASK_RETRY_ATTEMPTS,
        "minBackoffSeconds": durable.TASK_MIN_BACKOFF_SECONDS,
        "maxBackoffSeconds": durable.TASK_MAX_BACKOFF_SECONDS,
    }
    shards = endpoints[rebuild_distributed.TASK_FUNCTION]
    assert shards["taskQueueTrigger"]["rateLimits"]["maxConcurrentDispatches"] == (
        rebuild_distributed.SHARD_CONCURRENCY
    )
    assert shards["timeoutSeconds"] == 540
    assert endpoints["api"]["httpsTrigger"] == {}
    assert {a["api"] for a in manifest["requiredAPIs"]} == {"cloudtasks.googleapis.com"}


def test_the_firebase_cli_parses_the_manifest_for_the_configured_runtime(deploy: Deploy) -> None:
    endpoints = deploy.cli_build["endpoints"]
    assert set(endpoints) == set(yaml.safe_load(deploy.manifest_text)["endpoints"])
    for name, endpoint in endpoints.items():
        assert (endpoint["runtime"], endpoint["entryPoint"]) == (deploy.runtime, name)
        assert endpoint["project"] == PROJECT and endpoint["platform"] == "gcfv2"
    retried = {n for n, e in endpoints.items() if e.get("eventTrigger", {}).get("retry")}
    compiled = compile_app(app)
    assert retried == {t.name for t in compiled.triggers} | {c.name for c in compiled.commands}
