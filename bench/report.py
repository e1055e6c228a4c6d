"""Tables (pure functions of the results dict) and PNG plots."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .stats import median, ratio, summary

# (name, limit, how the value is computed) -- the targets.
FRESHNESS_TARGET = 1.15
COLDSTART_TARGET = 1.3


def fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table, columns padded to line up in a terminal too."""
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# -- sections ---------------------------------------------------------------------------------


def freshness_section(fresh: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    variants = fresh["variants"]
    floor = variants["boiler"]["floor_ms"] + variants["baseline"]["floor_ms"]
    rows = [["floor (no function)", *_lat(floor), "-", "-", "-"]]
    for name in ("baseline", "boiler"):
        v = variants[name]
        function = median(v.get("function_ms", []))
        rows.append([name, *_lat(v["view_ms"]), function, v["timeouts"], v["wrong_views"]])
    boiler_med = median(variants["boiler"]["view_ms"])
    baseline_med = median(variants["baseline"]["view_ms"])
    derived = {
        "boiler_over_baseline": ratio(boiler_med, baseline_med),
        "boiler_minus_floor_ms": boiler_med - median(variants["boiler"]["floor_ms"]),
        "baseline_minus_floor_ms": baseline_med - median(variants["baseline"]["floor_ms"]),
    }
    text = (
        f"Freshness: write -> on_snapshot of the view, {fresh['writes_per_variant']} writes each, "
        f"{fresh['participants']} participants, {fresh['rounds']} stack run(s) per variant (ms)\n"
        + table(
            [
                "path",
                "n",
                "median",
                "p95",
                "p99",
                "function run (median)",
                "timeouts",
                "wrong views",
            ],
            rows,
        )
        + f"\nboiler / baseline (median): {fmt(derived['boiler_over_baseline'], 2)}x;"
        f" boiler - floor: {fmt(derived['boiler_minus_floor_ms'])} ms;"
        f" baseline - floor: {fmt(derived['baseline_minus_floor_ms'])} ms"
    )
    return text, derived


def _lat(values: Sequence[float]) -> list[Any]:
    s = summary(values)
    return [s["n"], s["median"], s["p95"], s["p99"]]


def cost_section(cost: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rows = []
    worst = 0.0
    for size in cost["sizes"]:
        for event in ("ticket", "user", "location"):
            b = cost["by_impl"]["boiler"][str(size)]["events"][event]
            h = cost["by_impl"]["baseline"][str(size)]["events"][event]
            worst = max(worst, ratio(b["reads"], h["reads"]))
            rows.append(
                [
                    event,
                    size,
                    b["reads"],
                    h["reads"],
                    b["writes"],
                    h["writes"],
                    b["rpcs"],
                    h["rpcs"],
                ]
            )
    wrong = sum(
        r["check"]["wrong"] + r["check"]["missing"] + r["check"]["extra"]
        for impl in cost["by_impl"].values()
        for r in impl.values()
    )
    text = "Cost per event (documents read / written, RPCs; boiler vs baseline)\n" + table(
        [
            "event",
            "participants",
            "reads boiler",
            "reads base",
            "writes boiler",
            "writes base",
            "RPCs boiler",
            "RPCs base",
        ],
        rows,
    )
    return text, {"max_reads_ratio": worst, "wrong_views": wrong}


def coldstart_section(cold: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    bare = cold["modules"]["bare"]["median_s"]
    rows = [
        [name, 1000 * m["median_s"], ratio(m["median_s"], bare)]
        for name, m in cold["modules"].items()
    ]
    growth = [
        [
            g["views"],
            g["functions"],
            1000 * g["boiler_median_s"],
            1000 * g["bare_same_functions_median_s"],
        ]
        for g in cold["growth"]
    ]
    text = (
        f"Cold start: import of the functions module, fresh process (median of {cold['runs']})\n"
        + table(["module", "import ms", "x bare"], rows)
        + "\n\nGrowth with declared view models (4 triggers each)\n"
        + table(["views", "functions", "boiler ms", "bare module, same functions, ms"], growth)
    )
    return text, {"boiler_over_bare": ratio(cold["modules"]["boiler"]["median_s"], bare)}


def contention_section(cont: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rows = []
    wrong_boiler = 0
    for impl, by_n in cont["by_impl"].items():
        for n, r in by_n.items():
            rows.append(
                [
                    impl,
                    int(n),
                    r["events"],
                    r["events_per_s"],
                    r["retries_per_event"],
                    r["max_retries"],
                    r["pending"],
                    r["errors"],
                    r.get("wrong_views_before_durable_path", r["wrong_views"]),
                    r["wrong_views"],
                ]
            )
            if impl.startswith("boiler"):
                wrong_boiler += r["wrong_views"]
    text = (
        "Contention: N concurrent writers on one meeting (in-process triggers, bare Firestore)\n"
        + table(
            [
                "impl",
                "writers",
                "events",
                "events/s",
                "retries/event",
                "max retries",
                "to durable path",
                "errors",
                "wrong views before durable path",
                "wrong views",
            ],
            rows,
        )
    )
    return text, {"wrong_views": wrong_boiler}


def _query_split(impl: str, run: dict[str, Any]) -> list[float]:
    """boiler lists the affected keys before rebuilding: its query time is a clean share of the
    drain. The baseline rebuilds while it iterates its query, so its split would mean nothing."""
    query = run.get("rpc_s", {}).get("run_query")
    if impl != "boiler" or query is None:
        return [math.nan, math.nan]
    return [query, run["drain_s"] - query]


def fanout_section(fan: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rows = []
    wrong_boiler = 0
    for impl, runs in fan["by_impl"].items():
        for r in runs:
            rows.append(
                [
                    impl,
                    r["views"],
                    r["drain_s"],
                    *_query_split(impl, r),
                    r["views_per_s"],
                    r["peak_heap_mb"],
                    r["peak_rss_growth_mb"],
                    r["wrong_views"],
                ]
            )
            if impl == "boiler":
                wrong_boiler += r["wrong_views"]
    text = "Fan-out: one user rename changing N views\n" + table(
        [
            "impl",
            "views",
            "drain s",
            "of which queries s",
            "rest s",
            "views/s",
            "peak heap MB",
            "RSS growth MB",
            "wrong views",
        ],
        rows,
    )
    boiler = fan["by_impl"]["boiler"]
    per_view = [r["drain_s"] / r["views"] for r in boiler]
    return text, {"wrong_views": wrong_boiler, "boiler_ms_per_view": [1000 * x for x in per_view]}


def targets(results: dict[str, Any], derived: dict[str, dict[str, Any]]) -> list[list[Any]]:
    rows = []
    if "freshness" in derived:
        value = derived["freshness"]["boiler_over_baseline"]
        rows.append(
            [
                "freshness median <= 1.15x baseline",
                f"{fmt(value, 2)}x",
                _ok(value <= FRESHNESS_TARGET),
            ]
        )
    if "cost" in derived:
        value = derived["cost"]["max_reads_ratio"]
        rows.append(
            ["reads per event <= baseline (worst case)", f"{fmt(value, 2)}x", _ok(value <= 1.0)]
        )
    if "coldstart" in derived:
        value = derived["coldstart"]["boiler_over_bare"]
        rows.append(
            ["cold-start import <= 1.3x bare", f"{fmt(value, 2)}x", _ok(value <= COLDSTART_TARGET)]
        )
    wrong = 0
    for section in ("cost", "contention", "fanout"):
        wrong += derived.get(section, {}).get("wrong_views", 0)
    if "freshness" in results:
        wrong += results["freshness"]["variants"]["boiler"]["wrong_views"]
    rows.append(["zero wrong boiler views in every run", wrong, _ok(wrong == 0)])
    return rows


def _ok(flag: bool) -> str:
    return "met" if flag else "MISSED"


def render(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The whole report as text, and the derived figures (ratios, targets) for latest.json."""
    parts: list[str] = []
    derived: dict[str, dict[str, Any]] = {}
    for name, section in (
        ("freshness", freshness_section),
        ("cost", cost_section),
        ("coldstart", coldstart_section),
        ("contention", contention_section),
        ("fanout", fanout_section),
    ):
        if name in results:
            text, derived[name] = section(results[name])
            parts.append(text)
    target_rows = targets(results, derived)
    parts.append("Targets\n" + table(["target", "value", "status"], target_rows))
    return "\n\n".join(parts), {**derived, "targets": target_rows}


# -- plots ------------------------------------------------------------------------------------


def plot(results: dict[str, Any], directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = directory / name
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    if "freshness" in results:
        variants = results["freshness"]["variants"]
        series = {
            "floor (no function)": variants["boiler"]["floor_ms"]
            + variants["baseline"]["floor_ms"],
            "baseline": variants["baseline"]["view_ms"],
            "boiler": variants["boiler"]["view_ms"],
        }
        fig, ax = plt.subplots(figsize=(7, 4))
        for label, values in series.items():
            ordered = sorted(values)
            if ordered:
                ax.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=label)
        ax.set_xlabel("write -> listener sees it (ms)")
        ax.set_ylabel("fraction of writes")
        ax.set_title("Freshness through the functions emulator (CDF)")
        ax.grid(alpha=0.3)
        ax.legend()
        save(fig, "freshness.png")

    if "cost" in results:
        cost = results["cost"]
        labels, boiler, baseline = [], [], []
        for size in cost["sizes"]:
            for event in ("ticket", "user", "location"):
                labels.append(f"{event}\n{size}p")
                boiler.append(cost["by_impl"]["boiler"][str(size)]["events"][event]["reads"])
                baseline.append(cost["by_impl"]["baseline"][str(size)]["events"][event]["reads"])
        fig, ax = plt.subplots(figsize=(8, 4))
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], boiler, 0.4, label="boiler")
        ax.bar([x + 0.2 for x in xs], baseline, 0.4, label="baseline")
        ax.set_xticks(list(xs), labels)
        ax.set_ylabel("documents read per event")
        ax.set_title("Reads per event (p = participants)")
        ax.legend()
        save(fig, "cost.png")

    if "coldstart" in results:
        cold = results["coldstart"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
        names = list(cold["modules"])
        left.bar(names, [1000 * cold["modules"][n]["median_s"] for n in names])
        left.set_ylabel("import ms (median)")
        left.set_title("Import of functions/main.py")
        views = [g["views"] for g in cold["growth"]]
        right.plot(
            views, [1000 * g["boiler_median_s"] for g in cold["growth"]], "o-", label="boiler app"
        )
        right.plot(
            views,
            [1000 * g["bare_same_functions_median_s"] for g in cold["growth"]],
            "s-",
            label="bare triggers (same count)",
        )
        right.set_xlabel("declared view models (4 triggers each)")
        right.set_ylabel("import ms (median)")
        right.set_title("Growth")
        right.legend()
        save(fig, "coldstart.png")

    if "contention" in results:
        cont = results["contention"]["by_impl"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
        for impl, by_n in cont.items():
            ns = [int(n) for n in by_n]
            left.plot(ns, [by_n[str(n)]["events_per_s"] for n in ns], "o-", label=impl)
            right.plot(ns, [by_n[str(n)]["wrong_views"] for n in ns], "o-", label=impl)
        left.set_xlabel("concurrent writers")
        left.set_ylabel("events/s")
        left.set_title("Throughput on one meeting")
        left.legend()
        right.set_xlabel("concurrent writers")
        right.set_ylabel("wrong views at the end")
        right.set_title("Correctness")
        right.legend()
        save(fig, "contention.png")

    if "fanout" in results:
        fan = results["fanout"]["by_impl"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
        for impl, runs in fan.items():
            if not runs:
                continue
            left.loglog([r["views"] for r in runs], [r["drain_s"] for r in runs], "o-", label=impl)
            right.plot(
                [r["views"] for r in runs], [r["peak_heap_mb"] for r in runs], "o-", label=impl
            )
        left.set_xlabel("views changed by one rename")
        left.set_ylabel("drain time (s)")
        left.set_title("Fan-out drain time (log-log)")
        left.legend()
        right.set_xlabel("views changed by one rename")
        right.set_ylabel("peak Python heap (MB)")
        right.set_title("Fan-out memory")
        right.legend()
        save(fig, "fanout.png")
    return written
