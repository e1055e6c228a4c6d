"""The live server's table and targets (``bench/live.py``'s results; pure functions)."""

from __future__ import annotations

import math
from typing import Any

from .stats import median, percentile, ratio, summary

LIVE_MEDIAN_TARGET = 1.25  # /ws arrival / on_snapshot arrival of the same write, median
LIVE_TAIL_TARGET = 1.25  # and p95
LIVE_FANOUT_SUBSCRIBERS = 1000  # the push targets are read at this many subscribers


def _lat(values: list[float]) -> list[float]:
    s = summary(values)
    return [s["n"], s["median"], s["p95"], s["p99"]]


def live_section(live: dict[str, Any], fmt: Any, table: Any) -> tuple[str, dict[str, Any]]:
    latency = live["latency"]
    ws, snap = latency["ws_ms"], latency["snapshot_ms"]
    added = [w - s for w, s in zip(ws, snap, strict=True)]
    rows = [
        ["on_snapshot listener of the view (Firestore SDK)", *_lat(snap)],
        ["WebSocket client of /ws (live server)", *_lat(ws)],
        ["added by the live server (paired, ws - on_snapshot)", *_lat(added)],
    ]
    push_rows = []
    at_target: dict[str, Any] | None = None
    for run in live["push"]:
        if run["subscribers"] == LIVE_FANOUT_SUBSCRIBERS:
            at_target = run
        push_rows.append(
            [
                run["subscribers"],
                run["listeners"],
                median(run["snapshot_ms"]),
                median(run["first_ms"]),
                median(run["last_ms"]),
                percentile(run["last_ms"], 95),
                run["pushes_per_s"],
                run["versions_skipped"],
                "yes" if run["all_on_last_version"] else "NO",
                run.get("server_rss_mib", math.nan),
                run.get("server_kib_per_subscriber", math.nan),
            ]
        )
    derived: dict[str, Any] = {
        "median_over_snapshot": ratio(median(ws), median(snap)),
        "p95_over_snapshot": ratio(percentile(ws, 95), percentile(snap, 95)),
        "added_median_ms": median(added),
        "added_p95_ms": percentile(added, 95),
        "timeouts": latency["timeouts"],
        "errors": len(latency["errors"]),
        "wrong_views": live["check"]["wrong"] + live["check"]["missing"] + live["check"]["extra"],
        "fanout": None,
    }
    if at_target is not None:
        derived["fanout"] = {
            "subscribers": at_target["subscribers"],
            "listeners": at_target["listeners"],
            "pushes_per_s": at_target["pushes_per_s"],
            "last_median_ms": median(at_target["last_ms"]),
            "last_p95_ms": percentile(at_target["last_ms"], 95),
            "all_on_last_version": at_target["all_on_last_version"],
            "server_rss_mib": at_target.get("server_rss_mib", math.nan),
            "server_kib_per_subscriber": at_target.get("server_kib_per_subscriber", math.nan),
        }
    text = (
        f"Live server: domain write -> the view's new version, at a WebSocket client of /ws and "
        f"at an on_snapshot listener of the same view, {len(ws)} writes after {live['warmup']} "
        f"warm-up, {live['participants']} participants (ms; both from the same write)\n"
        + table(["arrival at", "n", "median", "p95", "p99"], rows)
        + f"\n/ws / on_snapshot: median {fmt(derived['median_over_snapshot'], 2)}x, "
        f"p95 {fmt(derived['p95_over_snapshot'], 2)}x; timeouts {latency['timeouts']}\n\n"
        "Push: N WebSocket subscribers of one view document, which is written directly (no "
        "trigger); paced writes, each awaited at every client, then a burst of writes back to "
        "back (a client that falls behind skips to the latest version, by design)\n"
        + table(
            [
                "subscribers",
                "server listeners",
                "write -> on_snapshot (median)",
                "write -> first client (median)",
                "write -> last client (median)",
                "write -> last client (p95)",
                "burst pushes/s",
                "versions skipped",
                "every client on the last version",
                "server RSS (MiB)",
                "server KiB per subscriber",
            ],
            push_rows,
        )
    )
    return text, derived


def live_targets(live: dict[str, Any], fmt: Any, ok: Any, info: str) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, key, added, limit in (
        ("median", "median_over_snapshot", "added_median_ms", LIVE_MEDIAN_TARGET),
        ("p95", "p95_over_snapshot", "added_p95_ms", LIVE_TAIL_TARGET),
    ):
        value = live[key]
        rows.append(
            [
                f"/ws update {name} <= {limit}x on_snapshot of the view (same writes)",
                f"{fmt(value, 2)}x ({fmt(live[added], 1)} ms added)",
                ok(value <= limit),
            ]
        )
    fan = live["fanout"]
    if fan is not None:
        rows.append(
            [
                f"{fan['subscribers']:,} subscribers of one document: one server listener, "
                "every client on the last version",
                f"{fan['listeners']} listener(s); "
                f"{'all' if fan['all_on_last_version'] else 'NOT all'} on the last version",
                ok(fan["listeners"] == 1 and fan["all_on_last_version"]),
            ]
        )
        rows.append(
            [
                f"push rate with {fan['subscribers']:,} subscribers (write -> last client, median)",
                f"{fmt(fan['pushes_per_s'], 0)} pushes/s ({fmt(fan['last_median_ms'], 1)} ms)",
                info,
            ]
        )
        rows.append(
            [
                f"live server memory with {fan['subscribers']:,} subscribers",
                f"{fmt(fan['server_rss_mib'], 0)} MiB "
                f"({fmt(fan['server_kib_per_subscriber'], 1)} KiB per subscriber)",
                info,
            ]
        )
    return rows
