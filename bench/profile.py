"""Where a ticket event's time goes inside the functions emulator: ``python -m bench.profile``.

Runs each variant's codebase through a thin wrapper codebase that gives the trigger a counting
client and prints, per event, the handler's run time, each RPC's wall time in order, and when
the commit that made the view visible ended. Not part of ``./dev bench`` (the wrapper adds a
little work to both variants); its result is ``bench/results/profile.json``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

from . import freshness
from .stack import ROOT_SOURCES
from .stats import median

WRAPPER = textwrap.dedent(
    """
    import importlib.util, json, os, sys, time
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {shared!r})
    from bench.counting import counting_client

    spec = importlib.util.spec_from_file_location("wrapped_main", {target!r})
    wrapped = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wrapped)
    client, tally = counting_client(os.environ.get("GCLOUD_PROJECT"))
    {set_client}

    def _profiled(function):
        def run(event):
            tally.reset()
            began = time.perf_counter()
            result = function(event)
            ended = time.perf_counter()
            trace = [(m, 1000 * (s - began), 1000 * (e - began)) for m, s, e in tally.trace]
            line = json.dumps({{"handler_ms": 1000 * (ended - began), "trace": trace}})
            print("BENCH_PROFILE " + line, flush=True)
            return result
        run.__name__ = function.__name__
        run.__firebase_endpoint__ = function.__firebase_endpoint__
        return run

    {name} = _profiled(wrapped.{name})
    """
)

VARIANTS = {
    "boiler": {
        "target": "functions/main.py",
        "name": "meeting_session_on_ticket",
        "set_client": "from boiler.runtime.client import use_client; use_client(client)",
    },
    "baseline": {
        "target": "bench/baseline_functions/main.py",
        "name": "baseline_on_ticket",
        "set_client": "wrapped.use_client(client)",
    },
}

_LINE = re.compile(r"BENCH_PROFILE (\{.*\})")


def write_wrapper(variant: str, root: Path) -> str:
    """The wrapper codebase for ``variant`` under .boiler/run; returns its path relative to root."""
    spec = VARIANTS[variant]
    source = Path(".boiler") / "run" / f"profile-{variant}"
    directory = root / source
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.py").write_text(
        WRAPPER.format(
            root=str(root),
            shared=str(root / "shared"),
            target=str(root / spec["target"]),
            set_client=spec["set_client"],
            name=spec["name"],
        )
    )
    (directory / "requirements.txt").write_text(
        (root / "functions" / "requirements.txt").read_text()
    )
    venv = directory / "venv"
    if not venv.exists():
        venv.symlink_to(root / "functions" / "venv")
    return str(source)


def summarise(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Median per step: each RPC in call order (by method and position), Python time, commit end."""
    steps: dict[str, list[float]] = {}
    visible: list[float] = []
    python: list[float] = []
    for event in events:
        seen: dict[str, int] = {}
        rpc_total = 0.0
        for method, start, end in event["trace"]:
            seen[method] = seen.get(method, 0) + 1
            steps.setdefault(f"{method} #{seen[method]}", []).append(end - start)
            rpc_total += end - start
        commits = [end for method, _, end in event["trace"] if method == "commit"]
        if commits:
            visible.append(commits[-1])
        python.append(event["handler_ms"] - rpc_total)
    return {
        "events": len(events),
        "handler_ms": median([e["handler_ms"] for e in events]),
        "view_committed_at_ms": median(visible),
        "python_ms": median(python),  # handler time not inside an RPC (decode, compute, logging)
        "rpc_ms": {name: median(values) for name, values in sorted(steps.items())},
    }


def main() -> int:
    writes = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    out: dict[str, Any] = {}
    for variant in ("boiler", "baseline"):
        source = write_wrapper(variant, freshness.ROOT)
        ROOT_SOURCES[f"{variant}-profile"] = source
        result = freshness.measure(f"{variant}-profile", writes, 10, 3, print, keep_log=True)
        lines = _LINE.findall(Path(result["log"]).read_text(errors="replace"))
        events = [json.loads(line) for line in lines][11:]  # the seed's and the warm-up's events
        out[variant] = {"freshness_median_ms": median(result["view_ms"]), **summarise(events)}
        print(variant, json.dumps(out[variant], indent=1))
    path = freshness.ROOT / "bench" / "results" / "profile.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("BOILER_LOG_LEVEL", "info")
    sys.exit(main())
