"""Cold start: time to import a functions module in a fresh interpreter (what a new instance pays).

Each sample is a new process of the functions' own Python (functions/venv) that imports the
module the way firebase-functions' server does (``spec_from_file_location`` + ``exec_module``)
and reports the import time; the median of several runs is kept.
"""

from __future__ import annotations

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

BARE = textwrap.dedent(
    """
    from firebase_functions import firestore_fn


    @firestore_fn.on_document_written(document="meetings/{meetingId}/tickets/{uid}")
    def on_ticket(event):
        pass
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


def import_seconds(modules: dict[str, Path], runs: int, python: Path) -> dict[str, list[float]]:
    """``runs`` samples per module, taken round-robin so machine noise hits every module alike."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT / "shared")

    def once(module: Path) -> float:
        result = subprocess.run(
            [str(python), "-c", _PROBE, str(module)],
            env=env,
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
        }
        modules["bare"].write_text(BARE)
        for count in view_counts:
            modules[f"synthetic_{count}"] = directory / f"synthetic_{count}.py"
            modules[f"synthetic_{count}"].write_text(synthetic_app(count))
            modules[f"bare_{count}"] = directory / f"bare_{count}.py"
            modules[f"bare_{count}"].write_text(bare_many(4 * count))
        samples = import_seconds(modules, runs, python)
        for name in ("bare", "baseline", "boiler"):
            out["modules"][name] = {"samples_s": samples[name], "median_s": median(samples[name])}
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
