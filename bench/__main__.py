"""``python -m bench [--quick] [--only SECTION,...]``: run the benchmarks, print the table, write
``bench/results/latest.json``, ``latest.md`` and PNG plots. Starts and stops every emulator itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# In-process triggers: keep boiler's per-event INFO lines out of the report (errors still print).
os.environ.setdefault("BOILER_LOG_LEVEL", "warning")

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = (
    "coldstart",
    "cost",
    "contention",
    "fanout",
    "lists",
    "freshness",
    "api",
    "rebuild",
    "live",
)

QUICK: dict[str, Any] = {
    "freshness": {"writes": 30, "warmup": 5, "participants": 3, "rounds": 1},
    "cost": {"sizes": (1, 3, 10, 30), "repeats": 1},
    "coldstart": {"runs": 3, "views": (10, 50)},
    "contention": {"writers": (10,), "events_each": 5, "deadline_s": 30, "rounds": 2},
    "fanout": {"sizes": (100, 400), "baseline_sizes": (100,)},
    "lists": {"sizes": (10, 100, 1000), "repeats": 3, "baseline_repeats": 3},
    "api": {"requests": 60, "warmup": 10, "participants": 10},
    "rebuild": {"meetings": 400, "participants": 5, "shard_keys": 100, "concurrency": 4},
    "live": {
        "writes": 40,
        "warmup": 5,
        "participants": 3,
        "subscribers": (1, 1000),
        "paced": 10,
        "burst": 20,
    },
}
FULL: dict[str, Any] = {
    "freshness": {"writes": 210, "warmup": 10, "participants": 3, "rounds": 3},
    "cost": {"sizes": (1, 3, 10, 30), "repeats": 3},
    "coldstart": {"runs": 7, "views": (10, 50, 200)},
    "contention": {"writers": (10, 50), "events_each": 5, "deadline_s": 90, "rounds": 3},
    "fanout": {"sizes": (100, 1000, 3000), "baseline_sizes": (100, 1000)},
    "lists": {"sizes": (10, 100, 1000, 5000), "repeats": 10, "baseline_repeats": 5},
    "api": {"requests": 300, "warmup": 20, "participants": 10},
    # 20,000 views; 4 shards at once: more Python workers than that only thrash 2 cores
    "rebuild": {"meetings": 4000, "participants": 5, "shard_keys": 200, "concurrency": 4},
    "live": {
        "writes": 200,
        "warmup": 10,
        "participants": 3,
        "subscribers": (1, 100, 1000),
        "paced": 30,
        "burst": 50,
    },
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _command(*args: str) -> str:
    try:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=60, check=False
        ).stdout.strip()
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    import psutil

    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "firebase_tools": _command(str(ROOT / "node_modules" / ".bin" / "firebase"), "--version"),
        "git_commit": _command("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
        "load_average_at_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer samples and sizes (about 2 minutes)"
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results", help="results directory"
    )
    parser.add_argument(
        "--huge",
        action="store_true",
        help="add a 10,000-view fan-out (about 6 more minutes, mostly seeding 10,000 meetings)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="re-render latest.md and the plots from the existing latest.json (no measuring)",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        return _render(json.loads((args.out / "latest.json").read_text()), args.out)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    config = QUICK if args.quick else FULL
    if args.huge:
        fan = config["fanout"]
        config = {**config, "fanout": {**fan, "sizes": (*fan["sizes"], 10_000)}}
    began = time.perf_counter()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {name: config[name] for name in only},
        "seconds": {},
    }

    def timed(name: str, fn: Any) -> None:
        log(f"{name} ...")
        t0 = time.perf_counter()
        results[name] = fn()
        results["seconds"][name] = round(time.perf_counter() - t0, 1)
        log(f"{name} done in {results['seconds'][name]} s")

    if "coldstart" in only:
        from . import coldstart

        c = config["coldstart"]
        timed("coldstart", lambda: coldstart.run(c["runs"], c["views"]))

    standalone = [name for name in ("cost", "contention", "fanout", "lists") if name in only]
    if standalone:
        from boiler.testing import FirestoreEmulator

        with FirestoreEmulator(project_id="demo-bench", root=ROOT) as emulator:
            os.environ.update(emulator.env())
            from . import contention, cost, fanout, handlers, lists

            if "cost" in only:
                c = config["cost"]
                timed("cost", lambda: cost.run(emulator, handlers.both(), c["sizes"], c["repeats"]))
            if "contention" in only:
                c = config["contention"]
                timed(
                    "contention",
                    lambda: contention.run(
                        emulator, c["writers"], c["events_each"], c["deadline_s"], c["rounds"]
                    ),
                )
            if "fanout" in only:
                c = config["fanout"]
                timed("fanout", lambda: fanout.run(emulator, c["sizes"], c["baseline_sizes"]))
            if "lists" in only:
                c = config["lists"]
                timed(
                    "lists",
                    lambda: lists.run(
                        emulator, c["sizes"], c["repeats"], c["baseline_repeats"], log
                    ),
                )

    if "freshness" in only:
        from . import freshness

        c = config["freshness"]
        timed(
            "freshness",
            lambda: freshness.run(c["writes"], c["warmup"], c["participants"], c["rounds"], log),
        )

    if "api" in only:
        from . import api

        c = config["api"]
        timed("api", lambda: api.run(c["requests"], c["warmup"], c["participants"], log))

    if "rebuild" in only:
        from . import rebuild

        c = config["rebuild"]
        timed(
            "rebuild",
            lambda: rebuild.run(
                c["meetings"], c["participants"], c["shard_keys"], c["concurrency"], log
            ),
        )

    if "live" in only:
        from . import live

        c = config["live"]
        timed(
            "live",
            lambda: live.run(
                c["writes"],
                c["warmup"],
                c["participants"],
                c["subscribers"],
                c["paced"],
                c["burst"],
                log,
            ),
        )

    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["seconds"]["total"] = round(time.perf_counter() - began, 1)
    return _render(results, args.out)


def _render(results: dict[str, Any], out: Path) -> int:
    from . import report

    text, derived = report.render(results)
    results["derived"] = derived
    out.mkdir(parents=True, exist_ok=True)
    header = (
        f"boiler benchmarks ({results['mode']} mode, {results['started']}, "
        f"commit {results['machine']['git_commit']}, {results['machine']['nproc']} cores, "
        f"load {results['machine']['load_average_at_start'][0]:.1f} at start; "
        f"{results['seconds']['total']} s)"
    )
    (out / "latest.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "latest.md").write_text(header + "\n\n" + text + "\n")
    plots = report.plot(results, out)
    print(header + "\n\n" + text)
    print(
        f"\nwrote {out / 'latest.json'}, {out / 'latest.md'}, " + ", ".join(p.name for p in plots)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
