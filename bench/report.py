"""Tables (pure functions of the results dict) and PNG plots."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import prices, report_live
from .stats import median, percentile, ratio, summary

# The targets (boiler / baseline, or / bare, unless said otherwise).
FRESHNESS_MEDIAN_TARGET = 1.0
FRESHNESS_TAIL_TARGET = 1.15  # p95 and p99
COST_TARGET = 1.0  # price units per event, worst event type: <= at COST_TARGET_SIZE, < above
COST_TARGET_SIZE = 3
COLDSTART_TARGET = 1.3  # the functions module, and 50 view models against as many bare triggers
COLDSTART_GROWTH_VIEWS = 50
COLDSTART_API_SHARE_TARGET = 0.05  # the HTTP API's own import + export, of functions/main.py's
API_MEDIAN_TARGET = 1.1  # the API's view GET / the hand-written https function's, same emulator
API_TAIL_TARGET = 1.25  # p95 (p99 is reported, without a target: its samples are few)
API_P99_MIN_SAMPLES = 100  # below this, p99 is the slowest sample or two: not shown
CONTENTION_TARGET = 0.7  # events/s, separate instances, at CONTENTION_WRITERS writers
CONTENTION_WRITERS = 10
EVENT_TYPES = ("ticket", "user", "location")
INFO = "info"  # the status of a row reported for information, without a target


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
        **{
            f"p{q}_over_baseline": ratio(
                percentile(variants["boiler"]["view_ms"], q),
                percentile(variants["baseline"]["view_ms"], q),
            )
            for q in (95, 99)
        },
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
        + f"\nboiler / baseline: median {fmt(derived['boiler_over_baseline'], 2)}x,"
        f" p95 {fmt(derived['p95_over_baseline'], 2)}x,"
        f" p99 {fmt(derived['p99_over_baseline'], 2)}x;"
        f" boiler - floor: {fmt(derived['boiler_minus_floor_ms'])} ms;"
        f" baseline - floor: {fmt(derived['baseline_minus_floor_ms'])} ms"
    )
    return text, derived


def _lat(values: Sequence[float]) -> list[Any]:
    s = summary(values)
    return [s["n"], s["median"], s["p95"], s["p99"]]


def _units(event: dict[str, Any]) -> float:
    """An event's price units (computed for results from before deletes were counted apart)."""
    if "units" in event:
        return float(event["units"])
    return prices.units(event["reads"], event["writes"], 0.0)


def _deletes(event: dict[str, Any]) -> str:
    """Deletes now, and the TTL deletes the event's documents will cost later."""
    now, later = event.get("deletes", 0.0), event.get("deferred_deletes", 0.0)
    return f"{fmt(now)} + {fmt(later)} TTL" if later else fmt(now)


def cost_section(cost: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rows = []
    worst_reads = 0.0
    worst_units: dict[str, float] = {}
    for size in cost["sizes"]:
        for event in EVENT_TYPES:
            b = cost["by_impl"]["boiler"][str(size)]["events"][event]
            h = cost["by_impl"]["baseline"][str(size)]["events"][event]
            worst_reads = max(worst_reads, ratio(b["reads"], h["reads"]))
            units = ratio(_units(b), _units(h))
            worst_units[str(size)] = max(worst_units.get(str(size), 0.0), units)
            rows.append(
                [
                    event,
                    size,
                    b["reads"],
                    h["reads"],
                    b["writes"],
                    h["writes"],
                    _deletes(b),
                    _deletes(h),
                    _units(b),
                    _units(h),
                    f"{fmt(units, 2)}x",
                ]
            )
    wrong = sum(
        r["check"]["wrong"] + r["check"]["missing"] + r["check"]["extra"]
        for impl in cost["by_impl"].values()
        for r in impl.values()
    )
    text = (
        "Cost per event: documents read, written, deleted (+ deleted later by the TTL policy),"
        " and their price in price units (boiler vs baseline)\n"
        + table(
            [
                "event",
                "participants",
                "reads boiler",
                "reads base",
                "writes boiler",
                "writes base",
                "deletes boiler",
                "deletes base",
                "units boiler",
                "units base",
                "boiler / base",
            ],
            rows,
        )
        + f"\n{prices.describe()}"
    )
    return text, {
        "max_reads_ratio": worst_reads,
        "max_units_ratio": worst_units,
        "wrong_views": wrong,
    }


COLDSTART_NAMES = {
    "boiler": "boiler (functions/main.py)",
    "boiler_without_api": "boiler without the HTTP API",
    "bare_same_functions": "bare, same functions as boiler",
}


def _functions(module: dict[str, Any]) -> str:
    """``event/task/https`` functions the module exports (``-`` for results from before)."""
    kinds = module.get("functions")
    if kinds is None:
        return "-"
    return f"{kinds['event']}/{kinds['task']}/{kinds['https']}"


def coldstart_section(cold: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    modules = cold["modules"]
    bare = modules["bare"]["median_s"]
    rows = [
        [
            COLDSTART_NAMES.get(name, name),
            _functions(m),
            1000 * m["median_s"],
            ratio(m["median_s"], bare),
        ]
        for name, m in modules.items()
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
    derived: dict[str, Any] = {
        "boiler_over_bare": ratio(modules["boiler"]["median_s"], bare),
        **_api_share(cold),
        **_growth(cold["growth"]),
    }
    api_line = ""
    if not math.isnan(derived["api_share"]):
        api_line = (
            f"\nthe HTTP API: imported and exported after the rest of main.py, "
            f"{fmt(derived['api_ms'])} ms ({fmt(100 * derived['api_share'])}% of main.py);"
            f" boiler / boiler without it {fmt(derived['with_over_without_api'], 2)}x;"
            f" boiler / bare module with the same functions"
            f" {fmt(derived['boiler_over_same_functions'], 2)}x"
        )
    text = (
        f"Cold start: import of the functions module, fresh process (median of {cold['runs']})\n"
        + table(["module", "functions (event/task/https)", "import ms", "x bare"], rows)
        + api_line
        + "\n\nGrowth with declared view models (4 triggers each)\n"
        + table(
            ["views", "functions", "boiler ms", "bare module, same functions, ms", "x bare"],
            [[*row, f"{fmt(ratio(row[2], row[3]), 2)}x"] for row in growth],
        )
        + f"\nper view model: boiler {fmt(derived['boiler_ms_per_view'], 2)} ms,"
        f" bare module {fmt(derived['bare_ms_per_view'], 2)} ms (4 triggers)"
    )
    return text, derived


def _api_share(cold: dict[str, Any]) -> dict[str, float]:
    """The HTTP API's own import (ms, and its share of main.py's), main.py with / without it,
    and main.py / a bare module with the same functions (NaN for results from before)."""
    modules = cold["modules"]
    boiler = modules["boiler"]["median_s"]
    share = cold.get("api_share", {}).get("median_s", math.nan)
    return {
        "api_ms": 1000 * share,
        "api_share": ratio(share, boiler),
        "with_over_without_api": ratio(
            boiler, modules.get("boiler_without_api", {}).get("median_s", math.nan)
        ),
        "boiler_over_same_functions": ratio(
            boiler, modules.get("bare_same_functions", {}).get("median_s", math.nan)
        ),
    }


def _growth(growth: list[dict[str, Any]]) -> dict[str, Any]:
    """Import ms per further view model (slope from the smallest to the largest count), and
    boiler / bare at ``COLDSTART_GROWTH_VIEWS`` view models (NaN when that count did not run)."""
    out: dict[str, Any] = {"boiler_ms_per_view": math.nan, "bare_ms_per_view": math.nan}
    if len(growth) >= 2:
        first, last = min(growth, key=lambda g: g["views"]), max(growth, key=lambda g: g["views"])
        views = last["views"] - first["views"]
        for name, key in (("boiler", "boiler_median_s"), ("bare", "bare_same_functions_median_s")):
            out[f"{name}_ms_per_view"] = 1000 * (last[key] - first[key]) / views
    at = [g for g in growth if g["views"] == COLDSTART_GROWTH_VIEWS]
    out["views_over_bare"] = (
        ratio(at[0]["boiler_median_s"], at[0]["bare_same_functions_median_s"]) if at else math.nan
    )
    return out


API_ROWS = (
    ("floor", "floor: empty https function", "plain_ping"),
    ("plain", "baseline: hand-written GET", "plain_get"),
    ("api", "boiler API: GET (200, ETag)", "api"),
    ("api_304", "boiler API: GET, If-None-Match (304)", "api"),
)


def api_section(api: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    samples = api["samples_ms"]
    with_p99 = min(len(samples[kind]) for kind, _, _ in API_ROWS) >= API_P99_MIN_SAMPLES
    rows = []
    for kind, label, function in API_ROWS:
        s = summary(samples[kind])
        run = api["function_ms"].get(kind, [])
        rows.append(
            [
                label,
                function,
                s["n"],
                s["median"],
                s["p95"],
                *([s["p99"]] if with_p99 else []),
                median(run) if run else math.nan,
                api["errors"][kind],
            ]
        )
    api_ms, plain_ms = samples["api"], samples["plain"]
    derived = {
        "median_over_baseline": ratio(median(api_ms), median(plain_ms)),
        "p95_over_baseline": ratio(percentile(api_ms, 95), percentile(plain_ms, 95)),
        "p99_over_baseline": (
            ratio(percentile(api_ms, 99), percentile(plain_ms, 99)) if with_p99 else math.nan
        ),
        "median_minus_baseline_ms": median(api_ms) - median(plain_ms),
        "not_modified_over_ok": ratio(median(samples["api_304"]), median(api_ms)),
        "same_body": api["same_body"],
        "errors": sum(api["errors"].values()),
    }
    p99 = f", p99 {fmt(derived['p99_over_baseline'], 2)}x" if with_p99 else ""
    text = (
        f"API: GET of one view document ({api['participants']} participants, "
        f"{fmt(api['view_bytes'])} bytes of JSON) through the functions emulator with an ID token, "
        f"{api['requests_each']} requests of each kind interleaved after {api['warmup']} warm-up "
        "rounds (ms, client-side; function run: as the emulator logs it)\n"
        + table(
            [
                "request",
                "function",
                "n",
                "median",
                "p95",
                *(["p99"] if with_p99 else []),
                "function run (median)",
                "errors",
            ],
            rows,
        )
        + f"\nAPI / baseline: median {fmt(derived['median_over_baseline'], 2)}x,"
        f" p95 {fmt(derived['p95_over_baseline'], 2)}x{p99};"
        f" API - baseline: {fmt(derived['median_minus_baseline_ms'], 2)} ms (median);"
        f" 304 / 200: {fmt(derived['not_modified_over_ok'], 2)}x;"
        f" same JSON as the baseline: {'yes' if api['same_body'] else 'NO'}"
    )
    return text, derived


def rebuild_section(rebuilt: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    modes = rebuilt["modes"]
    single = modes["single"]
    rows = []
    for name, label in (("single", "one process (boiler rebuild)"), ("distributed", "sharded")):
        mode = modes[name]
        check = mode["check"]
        rows.append(
            [
                label,
                mode["views"],
                mode["keys"],
                mode.get("shards", "-"),
                mode.get("most_in_flight", 1),
                mode["seconds"],
                mode["views_per_s"],
                ratio(mode["views_per_s"], single["views_per_s"]),
                check["wrong"] + check["missing"] + check["extra"],
            ]
        )
    distributed = modes["distributed"]
    derived = {
        "views": distributed["views"],
        "distributed_over_single": ratio(distributed["views_per_s"], single["views_per_s"]),
        "wrong_views": sum(
            m["check"]["wrong"] + m["check"]["missing"] + m["check"]["extra"] + m["failed"]
            for m in modes.values()
        ),
    }
    text = (
        f"Rebuild: every MeetingSession view rebuilt from the domain ({rebuilt['meetings']} "
        f"meetings x {rebuilt['participants']} participants, no view or record before), in one "
        f"process and sharded over the boilerRebuild task queue ({rebuilt['shard_keys']} keys a "
        f"shard, at most {rebuilt['concurrency']} at once) in the emulators\n"
        + table(
            [
                "mode",
                "views",
                "keys",
                "shards",
                "most shards at once",
                "seconds",
                "views/s",
                "vs one process",
                "wrong views",
            ],
            rows,
        )
        + "\nThe emulators run every shard on this machine's cores: sharding spreads the work "
        "over Python workers here, over instances (each with its own CPU) when deployed."
    )
    return text, derived


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
                    r.get("covered", "-") if impl.startswith("boiler") else "-",
                    r["pending"],
                    r["errors"],
                    r.get("wrong_views_before_durable_path", r["wrong_views"]),
                    r["wrong_views"],
                ]
            )
            if impl.startswith("boiler"):
                wrong_boiler += r["wrong_views"]
    text = (
        "Contention: N concurrent writers on one meeting (in-process triggers, bare Firestore; "
        f"{cont.get('rounds', 1)} round(s) per variant, alternated, after a warm-up)\n"
        + table(
            [
                "impl",
                "writers",
                "events",
                "events/s",
                "retries/event",
                "max retries",
                "covered",
                "to durable path",
                "errors",
                "wrong views before durable path",
                "wrong views",
            ],
            rows,
        )
    )
    by_impl = cont["by_impl"]
    writers = str(CONTENTION_WRITERS)
    throughput = math.nan
    if writers in by_impl.get("boiler", {}) and writers in by_impl.get("baseline", {}):
        throughput = ratio(
            by_impl["boiler"][writers]["events_per_s"], by_impl["baseline"][writers]["events_per_s"]
        )
    return text, {"wrong_views": wrong_boiler, "events_per_s_over_baseline": throughput}


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


LIST_VIEWS = ("agenda", "board")
LIST_EVENTS = ("retitle", "start", "reschedule")


def _list_summary(samples: list[dict[str, Any]], step: str) -> dict[str, float]:
    """Median reads, latency median/p95 and query time of one step over its samples."""
    ms = [s[step]["ms"] for s in samples]
    return {
        "reads": median([s[step]["reads"] for s in samples]),
        "max_reads": max(s[step]["reads"] for s in samples),
        "writes": median([s[step]["writes"] for s in samples]),
        "deletes": median([s[step].get("deletes", 0) for s in samples]),
        "ms": median(ms),
        "p95": percentile(ms, 95),
        "query_ms": median([s[step]["query_ms"] for s in samples]),
    }


def lists_summary(lists: dict[str, Any]) -> dict[str, Any]:
    """{size: {view: {event: {"boiler": .., "card": .., "baseline": ..}}}} from the raw samples."""
    out: dict[str, Any] = {}
    for size, run in lists["by_size"].items():
        out[size] = {
            view: {
                event: {
                    "boiler": _list_summary(run["boiler"][event], view),
                    "card": _list_summary(run["boiler"][event], "card"),
                    "baseline": _list_summary(run["baseline"][event], view),
                }
                for event in LIST_EVENTS
            }
            for view in LIST_VIEWS
        }
    return out


def lists_section(lists: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    summary = lists_summary(lists)
    reads_rows, time_rows = [], []
    for view in LIST_VIEWS:
        for event in LIST_EVENTS:
            for size in lists["sizes"]:
                s = summary[str(size)][view][event]
                b, c, h = s["boiler"], s["card"], s["baseline"]
                reads_rows.append(
                    [
                        view,
                        event,
                        size,
                        b["reads"],
                        c["reads"],
                        h["reads"],
                        f"{fmt(ratio(b['reads'] + c['reads'], h['reads']), 3)}x",
                        b["writes"] + c["writes"],
                        h["writes"],
                        b["deletes"] + c["deletes"],
                        h["deletes"],
                    ]
                )
                time_rows.append(
                    [
                        view,
                        event,
                        size,
                        b["ms"],
                        b["p95"],
                        b["query_ms"],
                        c["ms"],
                        h["ms"],
                        h["p95"],
                        f"{fmt(ratio(b['ms'] + c['ms'], h['ms']), 2)}x",
                    ]
                )
    runs = lists["by_size"].values()
    wrong_boiler = sum(len(r["wrong_after_setup"]) + len(r["boiler_wrong_views"]) for r in runs)
    wrong_baseline = sum(len(r["baseline_wrong_views"]) for r in runs)
    saturated = [str(n) for n in lists.get("saturated_sizes", [])]
    growth = math.nan
    if len(saturated) >= 2:
        growth = max(
            ratio(
                summary[saturated[-1]][view][event]["boiler"]["max_reads"]
                + summary[saturated[-1]][view][event]["card"]["max_reads"],
                summary[saturated[0]][view][event]["boiler"]["reads"]
                + summary[saturated[0]][view][event]["card"]["reads"],
            )
            for view in LIST_VIEWS
            for event in LIST_EVENTS
        )
    text = (
        "Lists: one event on the first meeting of an agenda / a location board over N meetings "
        f"(in-process triggers, bare Firestore; boiler x{lists['repeats']}, "
        f"baseline x{lists['baseline_repeats']} per event)\n"
        "Documents read, written and deleted per event (median); card = the meeting card's own "
        "trigger, which runs first\n"
        + table(
            [
                "view",
                "event",
                "meetings",
                "reads boiler",
                "reads card",
                "reads base",
                "boiler+card / base",
                "writes boiler+card",
                "writes base",
                "deletes boiler+card",
                "deletes base",
            ],
            reads_rows,
        )
        + "\n\nLatency per event (ms, in-process)\n"
        + table(
            [
                "view",
                "event",
                "meetings",
                "boiler median",
                "boiler p95",
                "of which queries",
                "card median",
                "base median",
                "base p95",
                "boiler+card / base",
            ],
            time_rows,
        )
        + f"\nwrong views: boiler {wrong_boiler}, baseline {wrong_baseline}"
    )
    return text, {
        "wrong_views": wrong_boiler,
        "baseline_wrong_views": wrong_baseline,
        "boiler_reads_growth": growth,
        "summary": summary,
    }


def targets(results: dict[str, Any], derived: dict[str, dict[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    if "freshness" in derived:
        fresh = derived["freshness"]
        for name, key, limit in (
            ("median", "boiler_over_baseline", FRESHNESS_MEDIAN_TARGET),
            ("p95", "p95_over_baseline", FRESHNESS_TAIL_TARGET),
            ("p99", "p99_over_baseline", FRESHNESS_TAIL_TARGET),
        ):
            value = fresh[key]
            rows.append(
                [f"freshness {name} <= {limit}x baseline", f"{fmt(value, 2)}x", _ok(value <= limit)]
            )
    if "cost" in derived:
        value = derived["cost"]["max_reads_ratio"]
        rows.append(
            ["reads per event <= baseline (worst case)", f"{fmt(value, 2)}x", _ok(value <= 1.0)]
        )
        rows += _cost_targets(derived["cost"]["max_units_ratio"])
    if "coldstart" in derived:
        cold = derived["coldstart"]
        value = cold["boiler_over_bare"]
        rows.append(
            ["cold-start import <= 1.3x bare", f"{fmt(value, 2)}x", _ok(value <= COLDSTART_TARGET)]
        )
        value = cold["views_over_bare"]
        if not math.isnan(value):
            rows.append(
                [
                    f"cold-start import with {COLDSTART_GROWTH_VIEWS} view models <= "
                    f"{COLDSTART_TARGET}x bare module with the same functions",
                    f"{fmt(value, 2)}x",
                    _ok(value <= COLDSTART_TARGET),
                ]
            )
        if not math.isnan(cold["api_share"]):
            rows.append(
                [
                    "cold-start: the HTTP API's own import and export <= "
                    f"{fmt(100 * COLDSTART_API_SHARE_TARGET, 0)}% of functions/main.py's",
                    f"{fmt(100 * cold['api_share'])}% ({fmt(cold['api_ms'])} ms)",
                    _ok(cold["api_share"] <= COLDSTART_API_SHARE_TARGET),
                ]
            )
        if not math.isnan(cold["boiler_over_same_functions"]):
            value = cold["boiler_over_same_functions"]
            rows.append(
                [
                    f"cold-start import of functions/main.py <= {COLDSTART_TARGET}x "
                    "bare module with the same functions",
                    f"{fmt(value, 2)}x",
                    _ok(value <= COLDSTART_TARGET),
                ]
            )
        if not math.isnan(cold["boiler_ms_per_view"]):
            rows.append(
                [
                    "cold-start growth per view model (boiler; bare module, 4 triggers)",
                    f"{fmt(cold['boiler_ms_per_view'], 2)} ms; "
                    f"{fmt(cold['bare_ms_per_view'], 2)} ms",
                    INFO,
                ]
            )
    if "api" in derived:
        api = derived["api"]
        for name, key, limit in (
            ("median", "median_over_baseline", API_MEDIAN_TARGET),
            ("p95", "p95_over_baseline", API_TAIL_TARGET),
        ):
            value = api[key]
            rows.append(
                [
                    f"API view GET {name} <= {limit}x hand-written https function",
                    f"{fmt(value, 2)}x",
                    _ok(value <= limit),
                ]
            )
        if not math.isnan(api["p99_over_baseline"]):
            rows.append(
                [
                    "API view GET p99 / hand-written https function",
                    f"{fmt(api['p99_over_baseline'], 2)}x",
                    INFO,
                ]
            )
        rows.append(
            [
                "API view GET: the baseline's JSON, no failed request",
                f"{'same' if api['same_body'] else 'DIFFERENT'}; {api['errors']} failed",
                _ok(api["same_body"] and api["errors"] == 0),
            ]
        )
    if "contention" in derived and not math.isnan(
        derived["contention"]["events_per_s_over_baseline"]
    ):
        value = derived["contention"]["events_per_s_over_baseline"]
        rows.append(
            [
                f"{CONTENTION_WRITERS} concurrent writers, separate instances: "
                f"events/s >= {CONTENTION_TARGET}x baseline",
                f"{fmt(value, 2)}x",
                _ok(value >= CONTENTION_TARGET),
            ]
        )
    if "lists" in derived and not math.isnan(derived["lists"]["boiler_reads_growth"]):
        value = derived["lists"]["boiler_reads_growth"]
        rows.append(
            [
                "list views: reads per event flat in N (largest / smallest full size)",
                f"{fmt(value, 2)}x",
                _ok(value <= 1.0),
            ]
        )
    if "rebuild" in derived:
        rebuilt = derived["rebuild"]
        rows.append(
            [
                f"distributed rebuild of {rebuilt['views']:,} views / one process (views/s)",
                f"{fmt(rebuilt['distributed_over_single'], 2)}x",
                INFO,
            ]
        )
    if "live" in derived:
        rows += report_live.live_targets(derived["live"], fmt, _ok, INFO)
    wrong = 0
    for section in ("cost", "contention", "fanout", "lists", "rebuild", "live"):
        wrong += derived.get(section, {}).get("wrong_views", 0)
    if "freshness" in results:
        wrong += results["freshness"]["variants"]["boiler"]["wrong_views"]
    rows.append(["zero wrong boiler views in every run", wrong, _ok(wrong == 0)])
    return rows


def _cost_targets(worst: dict[str, float]) -> list[list[Any]]:
    """Price units per event, worst event type: <= baseline at ``COST_TARGET_SIZE``
    participants and below it from there up; smaller meetings for information."""
    rows: list[list[Any]] = []
    for size, value in sorted(worst.items(), key=lambda item: int(item[0])):
        n = int(size)
        if n < COST_TARGET_SIZE:
            name, status = f"cost per event in price units at {n} participant(s)", INFO
        else:
            at_target = n == COST_TARGET_SIZE
            limit = "<=" if at_target else "<"
            met = value <= COST_TARGET if at_target else value < COST_TARGET
            name = (
                f"cost per event in price units {limit} {COST_TARGET}x baseline at {n} participants"
            )
            status = _ok(met)
        rows.append([f"{name} (worst event type)", f"{fmt(value, 2)}x", status])
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
        ("lists", lists_section),
        ("api", api_section),
        ("rebuild", rebuild_section),
    ):
        if name in results:
            text, derived[name] = section(results[name])
            parts.append(text)
    if "live" in results:
        text, derived["live"] = report_live.live_section(results["live"], fmt, table)
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

    def cdf(
        series: dict[str, list[float]],
        xlabel: str,
        ylabel: str,
        title: str,
        name: str,
        legend_size: float | None = None,
    ) -> None:
        """One cumulative distribution per series (empty series are left out)."""
        fig, ax = plt.subplots(figsize=(7, 4))
        for label, values in series.items():
            ordered = sorted(values)
            if ordered:
                ax.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=legend_size)
        save(fig, name)

    if "freshness" in results:
        variants = results["freshness"]["variants"]
        series = {
            "floor (no function)": variants["boiler"]["floor_ms"]
            + variants["baseline"]["floor_ms"],
            "baseline": variants["baseline"]["view_ms"],
            "boiler": variants["boiler"]["view_ms"],
        }
        cdf(
            series,
            "write -> listener sees it (ms)",
            "fraction of writes",
            "Freshness through the functions emulator (CDF)",
            "freshness.png",
        )

    if "api" in results:
        samples = results["api"]["samples_ms"]
        cdf(
            {label: samples[kind] for kind, label, _ in API_ROWS},
            "GET of one view document, client-side (ms)",
            "fraction of requests",
            "HTTP API through the functions emulator (CDF)",
            "api.png",
            legend_size=8,
        )

    if "cost" in results:
        cost = results["cost"]
        labels = [f"{event}\n{size}p" for size in cost["sizes"] for event in EVENT_TYPES]
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
        xs = range(len(labels))
        for ax, measure, title in (
            (left, lambda e: e["reads"], "Documents read per event"),
            (right, _units, "Price units per event (read 1, write 3, delete 1/3)"),
        ):
            for offset, impl in ((-0.2, "boiler"), (0.2, "baseline")):
                values = [
                    measure(cost["by_impl"][impl][str(size)]["events"][event])
                    for size in cost["sizes"]
                    for event in EVENT_TYPES
                ]
                ax.bar([x + offset for x in xs], values, 0.4, label=impl)
            ax.set_xticks(list(xs), labels, fontsize=7)
            ax.set_title(f"{title} (p = participants)", fontsize=10)
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

    if "lists" in results:
        lists = results["lists"]
        summary = lists_summary(lists)
        sizes = lists["sizes"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        for view in LIST_VIEWS:
            rows = [summary[str(n)][view]["start"] for n in sizes]
            for axis, figure in ((left, "reads"), (right, "ms")):
                axis.loglog(
                    sizes,
                    [r["boiler"][figure] + r["card"][figure] for r in rows],
                    "o-",
                    label=f"boiler {view} (+ card)",
                )
                axis.loglog(
                    sizes, [r["baseline"][figure] for r in rows], "s--", label=f"baseline {view}"
                )
        left.set_xlabel("meetings in the agenda / at the location")
        left.set_ylabel("documents read per event")
        left.set_title("Reads: a meeting starts (median)")
        left.legend(fontsize=8)
        right.set_xlabel("meetings in the agenda / at the location")
        right.set_ylabel("event latency, ms (median)")
        right.set_title("Latency: a meeting starts (in-process)")
        right.legend(fontsize=8)
        save(fig, "lists.png")
    return written
