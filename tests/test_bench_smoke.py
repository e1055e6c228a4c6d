"""The benchmark's pure parts: percentile math, table formatting, and the baseline computing the
same view as boiler for the same data; and the list benchmark end to end at small sizes on the
Firestore emulator (no timing assertions)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meeting_room import Location, Meeting, MeetingSession, Ticket, User  # noqa: E402
from meeting_room.views import MeetingData  # noqa: E402

from bench import report, stats  # noqa: E402
from bench.domain import LOCATION, user_doc  # noqa: E402


def _baseline():
    spec = importlib.util.spec_from_file_location(
        "bench_baseline_main_test", ROOT / "bench/baseline_functions/main.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_percentile_matches_linear_interpolation() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 50) == 3.0
    assert stats.percentile(values, 100) == 5.0
    assert stats.percentile(values, 25) == 2.0
    assert stats.percentile([1.0, 2.0], 95) == pytest.approx(1.95)
    assert math.isnan(stats.percentile([], 50))
    with pytest.raises(ValueError):
        stats.percentile(values, 101)


def test_summary_and_ratio() -> None:
    summary = stats.summary([float(i) for i in range(1, 101)])
    assert summary["n"] == 100
    assert summary["median"] == pytest.approx(50.5)
    assert summary["p99"] == pytest.approx(99.01)
    assert math.isnan(stats.ratio(1.0, 0.0))


def test_table_lines_up() -> None:
    text = report.table(
        ["name", "ms"], [["boiler", 12.345], ["baseline", 1234.5], ["floor", float("nan")]]
    )
    lines = text.splitlines()
    assert lines[0].startswith("| name")
    assert set(lines[1]) <= {"|", "-"}
    assert len({len(line) for line in lines}) == 1
    assert "12.3" in text and "1,234.5" in text and "n/a" in text


@pytest.mark.parametrize(
    "attendance", [{}, {"u00000": True}, {"u00000": True, "u00001": False, "u00002": True}]
)
@pytest.mark.parametrize("with_location", [True, False])
def test_baseline_builds_the_same_view_as_boiler(
    attendance: dict[str, bool], with_location: bool
) -> None:
    participants = ["u00002", "u00000", "u00001", "missing"]
    users = {uid: user_doc(i) for i, uid in enumerate(participants[:3])}
    meeting = {
        "title": "Weekly",
        "locationId": "l1",
        "status": "in-session",
        "participantIds": participants,
    }
    tickets = {
        uid: {"role": "participant", "attendance": present} for uid, present in attendance.items()
    }
    location = LOCATION if with_location else None

    baseline_view = _baseline().view_of("m1", meeting, location, tickets, users)
    data = MeetingData(
        "m1",
        meeting=Meeting.from_firestore("meetings/m1", meeting),
        location=Location.from_firestore("locations/l1", location) if location else None,
        tickets={
            uid: Ticket.from_firestore(f"meetings/m1/tickets/{uid}", t)
            for uid, t in tickets.items()
        },
        participants={uid: User.from_firestore(f"users/{uid}", u) for uid, u in users.items()},
    )
    boiler_views = MeetingSession.build_paths(data)
    assert set(boiler_views) == {f"users/{uid}/meetingSessions/m1" for uid in participants}
    for view in boiler_views.values():
        assert view.to_firestore() == baseline_view


def test_report_renders_targets_from_results() -> None:
    fresh = {
        "participants": 3,
        "writes_per_variant": 2,
        "rounds": 1,
        "variants": {
            name: {"view_ms": [10.0, 12.0], "floor_ms": [5.0, 6.0], "timeouts": 0, "wrong_views": 0}
            for name in ("boiler", "baseline")
        },
    }
    text, derived = report.render({"freshness": fresh})
    assert derived["freshness"]["boiler_over_baseline"] == pytest.approx(1.0)
    assert "freshness median <= 1.0x baseline" in text and "met" in text
    assert "freshness p95 <= 1.15x baseline" in text and "freshness p99 <= 1.15x" in text
    assert "MISSED" not in text


def test_tally_bills_deletes_and_ttl_documents_apart() -> None:
    """A delete is billed as a delete; a write carrying the TTL field costs a delete later; a
    precondition-only write (``Attempt.verify``) is a write."""
    from google.cloud.firestore_v1.types import Document, DocumentMask, Precondition, Value, Write

    from bench import prices
    from bench.counting import Tally

    root = "projects/p/databases/(default)/documents/"
    tally = Tally()
    tally.add_writes(
        [
            Write(update=Document(name=root + "users/u1/meetingSessions/m1")),
            Write(
                update=Document(
                    name=root + "_boilerLedger/f:e1",
                    fields={"expireAt": Value(string_value="later")},
                )
            ),
            Write(
                update=Document(name=root + "meetings/m1"),
                update_mask=DocumentMask(field_paths=["_verify"]),
                current_document=Precondition(exists=True),
            ),
            Write(delete=root + "_boilerPending/f:e1"),
        ]
    )
    snap = tally.snapshot()
    assert (snap["writes"], snap["deletes"], snap["deferred_deletes"]) == (3, 1, 1)
    assert snap["written"] == {"users": 1, "_boilerLedger": 1, "meetings": 1}
    assert snap["deleted"] == {"_boilerPending": 1}
    assert snap["units"] == pytest.approx(3 * 3 + 2 / 3)
    assert prices.units(reads=3, writes=1, deletes=3) == pytest.approx(7.0)


def _cost_event(reads: float, writes: float, deletes: float = 0.0) -> dict[str, Any]:
    from bench import prices

    units = prices.units(reads, writes, deletes)
    return {"reads": reads, "writes": writes, "deletes": deletes, "units": units}


def test_report_cost_targets_per_size() -> None:
    """Size 1 is information; at 3 participants <= 1.0x is met; above it 1.0x is missed."""
    boiler = {"ticket": _cost_event(3, 2, 1), "user": _cost_event(4, 2, 1)}
    boiler["location"] = boiler["user"]
    baseline = {"1": _cost_event(4, 1), "3": _cost_event(9, 3), "10": _cost_event(4, 2, 1)}
    check = {"wrong": 0, "missing": 0, "extra": 0}
    cost = {
        "sizes": [1, 3, 10],
        "by_impl": {
            "boiler": {size: {"events": boiler, "check": check} for size in baseline},
            "baseline": {
                size: {"events": dict.fromkeys(boiler, event), "check": check}
                for size, event in baseline.items()
            },
        },
    }
    text, derived = report.render({"cost": cost})
    rows = {row[0]: row[1:] for row in derived["targets"]}
    name = "cost per event in price units {} baseline at {} participants (worst event type)"
    assert rows["cost per event in price units at 1 participant(s) (worst event type)"] == [
        "1.48x",
        "info",
    ]
    assert rows[name.format("<= 1.0x", 3)] == ["0.57x", "met"]
    assert rows[name.format("< 1.0x", 10)] == ["1.00x", "MISSED"]
    assert "1.0 + 0.0" not in text and "price units: read = 1, write = 3, delete = 1/3" in text


def test_lists_benchmark_small_sizes(firestore_emulator: Any) -> None:
    """The list benchmark end to end at two small sizes, both lists full (more than 50 upcoming
    meetings): every view right, boiler's reads the same at both sizes, the baseline's not."""
    from bench import lists

    result = lists.run(firestore_emulator, (80, 160), repeats=1, baseline_repeats=1)
    for run in result["by_size"].values():
        assert run["wrong_after_setup"] == []
        assert run["boiler_wrong_views"] == []
        assert run["baseline_wrong_views"] == []
        for samples in run["boiler"].values():
            assert {step["status"] for sample in samples for step in sample.values()} == {"applied"}
    small, large = result["by_size"]["80"], result["by_size"]["160"]
    for event in lists.EVENTS:
        for step in ("card", *lists.VIEWS):
            assert (
                small["boiler"][event][0][step]["reads"] == large["boiler"][event][0][step]["reads"]
            )
        for view in lists.VIEWS:
            assert (
                large["baseline"][event][0][view]["reads"]
                >= small["baseline"][event][0][view]["reads"] + 80
            )
    text, derived = report.render({"lists": result})
    assert derived["lists"]["boiler_reads_growth"] == pytest.approx(1.0)
    assert "Documents read, written and deleted per event" in text and "MISSED" not in text


def test_the_cold_start_module_declares_its_views_and_exports_their_functions(
    tmp_path: Path,
) -> None:
    """The module the cold-start growth imports: N view models over the meeting-room domain
    (whose source it carries, not the example app), 4 triggers each, plus the redrive task."""
    from bench import coldstart

    path = tmp_path / "synthetic_views.py"
    path.write_text(coldstart.synthetic_app(3))
    spec = importlib.util.spec_from_file_location("bench_synthetic_views", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported = {
        name for name, value in vars(module).items() if hasattr(value, "__firebase_endpoint__")
    }
    assert len(exported) == 3 * 4 + 2 and {"boilerRedrive", "boilerRebuild"} <= exported
    assert (
        "import meeting_room" not in path.read_text()
        and "from meeting_room" not in path.read_text()
    )


def _api_results(api_ms: list[float], plain_ms: list[float]) -> dict[str, Any]:
    samples = {"api": api_ms, "api_304": api_ms, "plain": plain_ms, "floor": [1.0] * len(api_ms)}
    return {
        "participants": 10,
        "requests_each": len(api_ms),
        "warmup": 2,
        "view_bytes": 1000,
        "same_body": True,
        "samples_ms": samples,
        "errors": dict.fromkeys(samples, 0),
        "function_ms": {kind: [] for kind in samples},
    }


def test_report_renders_api_targets() -> None:
    """API / baseline ratios against their targets; p99 only with enough samples (full mode)."""
    quick = _api_results([11.0] * 60, [10.0] * 60)
    text, derived = report.render({"api": quick})
    assert derived["api"]["median_over_baseline"] == pytest.approx(1.1)
    rows = {row[0]: row[1:] for row in derived["targets"]}
    assert rows["API view GET median <= 1.1x hand-written https function"] == ["1.10x", "met"]
    assert rows["API view GET: the baseline's JSON, no failed request"][1] == "met"
    assert "p99" not in text
    full = _api_results([10.0] * 99 + [100.0], [10.0] * 100)
    full["errors"]["api"] = 1
    text, derived = report.render({"api": full})
    rows = {row[0]: row[1:] for row in derived["targets"]}
    assert "| p99" in text and rows["API view GET p99 / hand-written https function"][1] == "info"
    assert rows["API view GET: the baseline's JSON, no failed request"] == [
        "same; 1 failed",
        "MISSED",
    ]


def test_the_cold_start_modules_with_and_without_the_api(tmp_path: Path) -> None:
    """main.py without its API is main.py minus two lines; the bare module declares the same
    functions by kind; results from before these rows still render."""
    from bench import coldstart

    main = (ROOT / "functions/main.py").read_text()
    without = coldstart.without_api(main)
    assert "export_api" not in without and len(main.splitlines()) - len(without.splitlines()) == 2
    path = tmp_path / "bare_same.py"
    path.write_text(coldstart.bare_functions(event=3, task=1, https=2))
    spec = importlib.util.spec_from_file_location("bench_bare_same", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    endpoints = [
        value.__firebase_endpoint__
        for value in vars(module).values()
        if hasattr(value, "__firebase_endpoint__")
    ]
    assert sum(e.httpsTrigger is not None for e in endpoints) == 2
    assert sum(e.taskQueueTrigger is not None for e in endpoints) == 1 and len(endpoints) == 6
    before = {
        "runs": 1,
        "modules": {name: {"median_s": 0.5} for name in ("bare", "baseline", "boiler")},
        "growth": [],
    }
    text, derived = report.render({"coldstart": before})
    assert "HTTP API" not in text and math.isnan(derived["coldstart"]["api_share"])


def test_the_api_baseline_answers_as_the_api(firestore: Any, monkeypatch: Any) -> None:
    """The hand-written ``plain_get`` returns the API's JSON for the caller's own view and
    refuses what the API refuses (another user's view, no token, a bad token, no document)."""
    import flask
    from boiler.api.http import HttpApi, HttpRequest
    from boiler.api.service import Service
    from boiler.compiler import compile_app
    from boiler.testing.rest import unsigned_token
    from meeting_room import app

    from bench import api as api_bench

    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    uid = api_bench.seed(firestore, 3)
    document = f"users/{uid}/meetingSessions/{api_bench.MEETING}"
    spec = importlib.util.spec_from_file_location(
        "bench_baseline_api_test", ROOT / "bench/baseline_functions/api.py"
    )
    assert spec is not None and spec.loader is not None
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    server = flask.Flask("plain_get")

    def plain_get(path: str, authorization: str | None) -> Any:
        headers = {"Authorization": authorization} if authorization else {}
        with server.test_request_context(path, headers=headers):
            return plain.plain_get(flask.request)

    def token(user: str) -> str:
        return f"Bearer {unsigned_token(user, plain.admin_app().project_id)}"

    answer = HttpApi(compile_app(app), service=Service(firestore)).handle(
        HttpRequest(
            "GET",
            f"/v1/{document}",
            headers={"authorization": token(uid)},
        )
    )
    mine = plain_get(f"/{document}", token(uid))
    assert answer.status == mine.status_code == 200
    assert mine.get_json() == answer.decoded()
    assert plain_get(f"/{document}", token("u00001")).status_code == 403
    assert plain_get(f"/{document}", None).status_code == 401
    assert plain_get(f"/{document}", "Bearer not-a-token").status_code == 401
    assert plain_get(f"/users/{uid}/meetingSessions/m9", token(uid)).status_code == 404


def _live_results(ws: list[float], snapshot: list[float], listeners: int) -> dict[str, Any]:
    push = {
        "subscribers": 1000,
        "listeners": listeners,
        "first_ms": [20.0, 30.0],
        "last_ms": [40.0, 60.0],
        "snapshot_ms": [8.0, 9.0],
        "burst_writes": 20,
        "burst_seconds": 2.0,
        "pushes": 9000,
        "pushes_per_s": 4500.0,
        "all_on_last_version": True,
        "versions_skipped": 11000,
        "server_rss_mib": 120.0,
        "server_kib_per_subscriber": 40.5,
    }
    return {
        "participants": 3,
        "writes": len(ws),
        "warmup": 5,
        "latency": {"ws_ms": ws, "snapshot_ms": snapshot, "timeouts": 0, "errors": []},
        "check": {"views": 3, "wrong": 0, "missing": 0, "extra": 0},
        "push": [push],
    }


def test_report_renders_live_targets() -> None:
    """/ws against on_snapshot of the same writes (paired), and the 1,000-subscriber row."""
    text, derived = report.render({"live": _live_results([12.0] * 10, [10.0] * 10, 1)})
    assert derived["live"]["median_over_snapshot"] == pytest.approx(1.2)
    assert derived["live"]["added_median_ms"] == pytest.approx(2.0)
    rows = {row[0]: row[1:] for row in derived["targets"]}
    assert rows["/ws update median <= 1.25x on_snapshot of the view (same writes)"] == [
        "1.20x (2.0 ms added)",
        "met",
    ]
    shared = (
        "1,000 subscribers of one document: one server listener, every client on the last version"
    )
    assert rows[shared][1] == "met"
    assert "| 1,000" in text and "4,500" in text
    assert rows["live server memory with 1,000 subscribers"] == [
        "120 MiB (40.5 KiB per subscriber)",
        "info",
    ]
    text, derived = report.render({"live": _live_results([13.0] * 10, [10.0] * 10, 2)})
    rows = {row[0]: row[1:] for row in derived["targets"]}
    assert rows["/ws update p95 <= 1.25x on_snapshot of the view (same writes)"][1] == "MISSED"
    assert rows[shared][1] == "MISSED"
