"""Cold start: time to import a functions module in a fresh interpreter (what a new instance pays).

Each sample is a new process of the functions' own Python (functions/venv) that imports the
module the way firebase-functions' server does (``spec_from_file_location`` + ``exec_module``)
and reports the import time; the median of several runs is kept.

The HTTP API's cost: ``functions/main.py`` beside the same module without its two API lines
(``without_api``), a bare module declaring the same functions by kind (``bare_functions``), and
the API's own share (``_API_SHARE``: main.py without it imported first, then the API imported
and exported in the same process, which a difference of two noisy imports cannot resolve).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from .stats import median

ROOT = Path(__file__).resolve().parent.parent

_PROBE = textwrap.dedent(
    """
    import importlib.util, sys, time
    began = time.perf_counter()
    spec = importlib.util.spec_from_file_location("main", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(time.perf_counter() - began)
    """
)

# The HTTP API's own share: main.py without it imported first, then the API imported and
# exported in the same fresh process (what adding ``export_api`` adds, without the import's noise).
_API_SHARE = textwrap.dedent(
    """
    import importlib.util, sys, time
    spec = importlib.util.spec_from_file_location("main", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    began = time.perf_counter()
    from boiler.connectors.http_api import export_api
    export_api(module.app)
    print(time.perf_counter() - began)
    """
)

# The modules of the cold-start table, in its order (the growth modules come apart).
MODULES = ("bare", "baseline", "boiler", "boiler_without_api", "bare_same_functions")

BARE = textwrap.dedent(
    """
    from firebase_functions import firestore_fn


    @firestore_fn.on_document_written(document="meetings/{meetingId}/tickets/{uid}")
    def on_ticket(event):
        pass
    """
)


_COUNT = textwrap.dedent(
    """
    import importlib.util, json, sys
    counts = {}
    for index, path in enumerate(sys.argv[1:]):
        spec = importlib.util.spec_from_file_location(f"counted_{index}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        kinds = {"event": 0, "task": 0, "https": 0}
        for value in vars(module).values():
            endpoint = getattr(value, "__firebase_endpoint__", None)
            if endpoint is None:
                continue
            if endpoint.httpsTrigger is not None:
                kinds["https"] += 1
            elif endpoint.taskQueueTrigger is not None:
                kinds["task"] += 1
            else:
                kinds["event"] += 1
        counts[path] = kinds
    print(json.dumps(counts))
    """
)


def bare_many(functions: int) -> str:
    """A hand-written module with ``functions`` empty triggers (the bare cost of declaring them)."""
    parts = ["from firebase_functions import firestore_fn\n"]
    for i in range(functions):
        parts.append(
            f'@firestore_fn.on_document_written(document="c{i}/{{id}}")\n'
            f"def on_c{i}(event):\n    pass\n"
        )
    return "\n".join(parts)


def bare_functions(event: int, task: int, https: int) -> str:
    """A hand-written module with empty functions of each kind: ``event`` Firestore triggers,
    ``task`` task-queue functions, ``https`` request handlers (what declaring them costs)."""
    parts = ["from firebase_functions import firestore_fn, https_fn, tasks_fn\n"]
    for i in range(event):
        parts.append(
            f'@firestore_fn.on_document_written(document="c{i}/{{id}}")\n'
            f"def on_c{i}(event):\n    pass\n"
        )
    for i in range(task):
        parts.append(f"@tasks_fn.on_task_dispatched()\ndef task{i}(request):\n    pass\n")
    for i in range(https):
        parts.append(
            f'@https_fn.on_request()\ndef http{i}(request):\n    return https_fn.Response("")\n'
        )
    return "\n".join(parts)


API_EXPORT = "globals().update(export_api(app))\n"
API_IMPORT = "from boiler.connectors.http_api import export_api  # noqa: E402\n"


def without_api(main: str) -> str:
    """``functions/main.py`` without its HTTP API (the two lines that import and export it)."""
    for line in (API_IMPORT, API_EXPORT):
        if line not in main:
            raise ValueError(f"functions/main.py no longer has the line {line.strip()!r}")
        main = main.replace(line, "")
    return main


def exported(modules: list[Path], python: Path) -> dict[str, dict[str, int]]:
    """{module path: {"event": n, "task": n, "https": n}}: the functions each module exports."""
    counts: dict[str, dict[str, int]] = json.loads(
        subprocess.run(
            [str(python), "-c", _COUNT, *map(str, modules)],
            env=_env(),
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return counts


def synthetic_app(views: int) -> str:
    """A functions module declaring ``views`` view models (each with its own Sources over the
    meeting-room domain, whose source opens the module: root, join, children, many = 4
    triggers each), compiled and exported. The probe's PYTHONPATH finds boiler."""
    # The meeting room's domain, as its source: importing meeting_room would build the
    # example app too (its views and commands), which is not this module's to pay.
    parts = [
        (ROOT / "shared" / "meeting_room" / "domain.py").read_text(),
        textwrap.dedent(
            """
            from boiler import App, Children, Join, Many, Root, Sources, ViewModel
            from boiler.connectors.firebase import export_functions
            """
        ),
    ]
    for i in range(views):
        parts.append(
            textwrap.dedent(
                f"""
                class Data{i}(Sources):
                    meeting: Meeting = Root(Meeting)
                    location: Location | None = Join(Location, on="location_id")
                    tickets: dict[str, Ticket] = Children(Ticket)
                    participants: dict[str, User] = Many(User, ids="participant_ids")


                class View{i}(
                    ViewModel, path="users/{{uid}}/view{i}/{{meetingId}}", sources=Data{i}
                ):
                    title: str
                    num_attending: int

                    @classmethod
                    def build(cls, data):
                        count = sum(t.attendance for t in data.tickets.values())
                        view = cls(title=data.meeting.title, num_attending=count)
                        return {{uid: view for uid in data.meeting.participant_ids}}
                """
            )
        )
    names = ", ".join(f"View{i}" for i in range(views))
    parts.append(
        f'app = App("synthetic", domain=[User, Location, Meeting, Ticket], views=[{names}])\n'
        "globals().update(export_functions(app))\n"
    )
    return "\n".join(parts)


def import_seconds(
    modules: dict[str, Path], runs: int, python: Path, probe: str = _PROBE
) -> dict[str, list[float]]:
    """``runs`` samples per module, taken round-robin so machine noise hits every module alike.

    ``probe``: the script each fresh process runs on the module (it prints seconds)."""

    def once(module: Path) -> float:
        result = subprocess.run(
            [str(python), "-c", probe, str(module)],
            env=_env(),
            check=True,
            capture_output=True,
            text=True,
        )
        return float(result.stdout.strip().splitlines()[-1])

    for module in modules.values():
        once(module)  # untimed: compiles the bytecode, as a deployed instance has it cached
    samples: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(runs):
        for name, module in modules.items():
            samples[name].append(once(module))
    return samples


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT / "shared")
    return env


def functions_python() -> Path:
    python = ROOT / "functions" / "venv" / "bin" / "python"
    return python if python.exists() else Path(os.sys.executable)


def run(runs: int, view_counts: tuple[int, ...]) -> dict[str, Any]:
    python = functions_python()
    out: dict[str, Any] = {"runs": runs, "python": str(python), "modules": {}, "growth": []}
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp:
        directory = Path(tmp)
        modules = {
            "bare": directory / "bare.py",
            "baseline": ROOT / "bench" / "baseline_functions" / "main.py",
            "boiler": ROOT / "functions" / "main.py",
            "boiler_without_api": directory / "boiler_without_api.py",
            "bare_same_functions": directory / "bare_same_functions.py",
        }
        modules["bare"].write_text(BARE)
        modules["boiler_without_api"].write_text(without_api(modules["boiler"].read_text()))
        app_functions = exported([modules["boiler"]], python)[str(modules["boiler"])]
        modules["bare_same_functions"].write_text(bare_functions(**app_functions))
        for count in view_counts:
            modules[f"synthetic_{count}"] = directory / f"synthetic_{count}.py"
            modules[f"synthetic_{count}"].write_text(synthetic_app(count))
            modules[f"bare_{count}"] = directory / f"bare_{count}.py"
            modules[f"bare_{count}"].write_text(bare_many(4 * count))
        samples = import_seconds(modules, runs, python)
        share = import_seconds(
            {"api": modules["boiler_without_api"]}, runs, python, probe=_API_SHARE
        )["api"]
        out["api_share"] = {"samples_s": share, "median_s": median(share)}
        counts = exported([modules[name] for name in MODULES], python)
        for name in MODULES:
            out["modules"][name] = {
                "samples_s": samples[name],
                "median_s": median(samples[name]),
                "functions": counts[str(modules[name])],
            }
        for count in view_counts:
            out["growth"].append(
                {
                    "views": count,
                    "functions": 4 * count,
                    "boiler_median_s": median(samples[f"synthetic_{count}"]),
                    "bare_same_functions_median_s": median(samples[f"bare_{count}"]),
                }
            )
    return out
