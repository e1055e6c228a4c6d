"""The web demo in real headless Chromium, against firebase-tools' emulators with hosting.

The page (web/, built to web/dist by `./dev setup`) is served by the hosting emulator, signs
in through the Auth emulator and reads its views live (agenda, meeting, location board);
tests/browser/web_demo.mjs drives the users' pages through playwright-core and the system's
Chromium, checking what they show against tests/meeting_lists.py's recomputation. With the
switch on (?via=live), the meeting view comes through a live server's /ws instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from boiler.live import Limits
from boiler.runtime.command_order import CommandOrder
from boiler.testing import EmulatorSuite, wait_until
from google.cloud import firestore
from meeting_room import AttendanceRequest
from meeting_room.seed import MEETING_ID, USERS, seed

from .live_server import start
from .meeting_lists import expected_lists, stored_lists

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "browser" / "web_demo.mjs"
SCREENSHOTS = ROOT / ".boiler" / "screenshots"
TIMEOUT = 60  # cold Python workers start on their first event, about 0.5 s each
pytestmark = pytest.mark.suite


@pytest.fixture(scope="session")
def web_suite(emulator_suite: EmulatorSuite) -> EmulatorSuite:
    """The shared emulator suite, whose hosting emulator serves the built page (web/dist)."""
    if not (ROOT / "web" / "dist" / "app.js").is_file():
        pytest.fail(
            "web/dist/app.js is missing: run ./dev setup (npm run build:web)", pytrace=False
        )
    return emulator_suite


@pytest.fixture
def seeded(web_suite: EmulatorSuite, monkeypatch: pytest.MonkeyPatch) -> firestore.Client:
    """The demo data, with every participant's view built (2 attending: alice and bob), and
    every agenda and location board as the domain documents call for."""
    for name, value in web_suite.env().items():
        monkeypatch.setenv(name, value)
    web_suite.reset_firestore()
    db = firestore.Client(project=web_suite.project_id)
    seed(db)
    for uid in USERS:
        wait_until(
            lambda uid=uid: num_attending(db, uid) == 2,
            timeout=TIMEOUT,
            message=f"{uid}'s view built",
        )
    wait_until(
        lambda: stored_lists(db) == expected_lists(db),
        timeout=2 * TIMEOUT,  # nine meetings, and the list functions' cold workers
        message="agendas and location boards built",
    )
    return db


def page_expectations(db: firestore.Client) -> str:
    """What the pages should show first, for tests/browser/web_demo.mjs: the seeded agendas and
    boards by uid and location id, and each meeting's location (JSON; times as strings)."""
    lists = expected_lists(db)
    expected = {
        "agendas": {p.split("/")[1]: v for p, v in lists.items() if p.startswith("agendas/")},
        "boards": {p.split("/")[1]: v for p, v in lists.items() if p.startswith("locationBoards/")},
        "locations": {m.id: m.get("locationId") for m in db.collection("meetings").stream()},
    }
    return json.dumps(expected, default=str)


def num_attending(db: firestore.Client, uid: str) -> int | None:
    snapshot = db.document(f"users/{uid}/meetingSessions/{MEETING_ID}").get()
    return snapshot.get("numAttending") if snapshot.exists else None


def test_two_users_see_an_attendance_toggle_live(
    chromium: str, web_suite: EmulatorSuite, seeded: firestore.Client
) -> None:
    # chromium comes first: a missing browser fails before the emulators start.
    node = shutil.which("node")
    assert node, "node not found on PATH (Node.js 20+ is required)"
    # The emulator delivers each request at once, in order, so a page cannot make a request
    # arrive late. Record instead that carol made a later request, applied already (say from
    # another tab): the request her page sends is then older, and boiler supersedes it.
    order = CommandOrder.of(AttendanceRequest)
    assert order is not None
    later = AttendanceRequest(meeting_id=MEETING_ID, attendance=False)
    order.ref(seeded, {"uid": "carol"}, later).set(
        {"createTime": dt.datetime(2999, 1, 1, tzinfo=dt.UTC), "commandId": "from-another-tab"}
    )
    env = {
        **os.environ,
        "BOILER_HOSTING_URL": web_suite.url("hosting"),
        "BOILER_CHROMIUM": chromium,
        "BOILER_SCREENSHOTS": str(SCREENSHOTS),
        "BOILER_EXPECTED": page_expectations(seeded),
    }
    result = subprocess.run(
        [node, str(SCRIPT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.stderr}\n{result.stdout}\nemulator log: {web_suite.log_path}"
    )
    timings = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"browser timings (ms): {timings}")
    # What the pages showed is what the domain says: bob left, came back, was refused once
    # the host had closed the meeting.
    assert seeded.document(f"meetings/{MEETING_ID}/tickets/bob").get().get("attendance") is True
    requests = seeded.collection("users/bob/attendanceRequests").stream()
    outcomes = sorted(
        (r.get("processedAt"), r.get("attendance"), r.get("status")) for r in requests
    )
    assert [outcome[1:] for outcome in outcomes] == [
        (False, "applied"),
        (True, "applied"),
        (False, "rejected"),
    ]
    assert seeded.document(f"meetings/{MEETING_ID}").get().get("status") == "closed"
    (superseded,) = seeded.collection("users/carol/attendanceRequests").stream()
    assert (superseded.get("status"), superseded.get("supersededBy")) == (
        "superseded",
        "from-another-tab",
    )
    assert seeded.document(f"meetings/{MEETING_ID}/tickets/carol").get().get("attendance") is False
    for uid in USERS:
        view = seeded.document(f"users/{uid}/meetingSessions/{MEETING_ID}").get()
        assert (view.get("numAttending"), view.get("inSession")) == (2, False)
    # The lists the pages showed live are the ones a recomputation gives: the closed kickoff
    # is off every agenda, and hq has no meeting in session any more.
    wait_until(lambda: stored_lists(seeded) == expected_lists(seeded), timeout=TIMEOUT)
    for uid in USERS:
        agenda = seeded.document(f"agendas/{uid}").get().get("meetings")
        assert MEETING_ID not in [entry["meetingId"] for entry in agenda]
    board = seeded.document("locationBoards/hq").get().to_dict() or {}
    assert (board["meetingsInSession"], board["attendingInSession"]) == (0, 0)


# ============================================================================ via the live server
class FirstTokenExpiresSoon:
    """A live server's clock: the first token it checks expires ``seconds`` after the check
    (``expires``: that token's exp, set by the test), every later one as issued."""

    def __init__(self, expires: float, seconds: float = 3.0) -> None:
        self.skew: float | None = expires - seconds - time.time()

    def __call__(self) -> float:
        skew, self.skew = self.skew or 0.0, None
        return time.time() + skew


def run_with_steps(
    command: list[str], env: dict[str, str], steps: dict[str, Callable[[Any], None]]
) -> tuple[int, str, str]:
    """Run the browser script, doing each `step NAME JSON` it prints and answering `ok` (or the
    failure); its other stdout lines and its stderr are returned. Killed after 240 s."""
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, text=True, bufsize=1,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(
            target=lambda: [*map(lines.put, process.stdout), lines.put(None)], daemon=True
        ).start()
        deadline = time.monotonic() + 240
        output = []
        try:
            while (line := lines.get(timeout=max(0.1, deadline - time.monotonic()))) is not None:
                if not line.startswith("step "):
                    output.append(line)
                    continue
                _, name, detail = line.rstrip("\n").split(" ", 2)
                try:
                    steps[name](json.loads(detail))
                    answer = "ok"
                except Exception as failure:  # told to the script, which fails naming it
                    answer = f"failed: {failure!r}"
                process.stdin.write(answer + "\n")
            code = process.wait(timeout=30)
        except queue.Empty:
            code = -1
            output.append("the browser script ran out of time")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr.seek(0)
        return code, "".join(output), stderr.read()


def test_the_meeting_view_through_the_live_server(
    chromium: str, web_suite: EmulatorSuite, seeded: firestore.Client
) -> None:
    node = shutil.which("node")
    assert node, "node not found on PATH (Node.js 20+ is required)"
    live = start(seeded)
    servers = [live]
    port = int(live.url.rsplit(":", 1)[1].split("/")[0])

    def subscribers(path: str, count: int) -> None:
        wait_until(
            lambda: servers[-1].watchers.subscriber_count(path) == count,
            timeout=TIMEOUT,
            message=f"{count} subscriber(s) of {path} on the live server",
        )

    def restart(detail: dict[str, Any]) -> None:
        clock = FirstTokenExpiresSoon(detail["tokenExpires"])
        servers.append(start(seeded, Limits(clock=clock), port=port))

    steps: dict[str, Callable[[Any], None]] = {
        "live-subscribed": lambda detail: subscribers(detail["path"], 1),
        "live-unsubscribed": lambda detail: subscribers(detail["path"], 0),
        "stop-live": lambda detail: servers[-1].stop(),
        "restart-live": restart,
    }
    env = {
        **os.environ,
        "BOILER_HOSTING_URL": web_suite.url("hosting"),
        "BOILER_CHROMIUM": chromium,
        "BOILER_SCREENSHOTS": str(SCREENSHOTS),
        "BOILER_LIVE_URL": live.url,
    }
    try:
        code, stdout, stderr = run_with_steps([node, str(SCRIPT)], env, steps)
    finally:
        for server in servers:
            server.stop()
    assert code == 0, f"{stderr}\n{stdout}\nemulator log: {web_suite.log_path}"
    timings = json.loads(stdout.strip().splitlines()[-1])
    print(f"browser timings (ms): {timings}")
    # What the page did went to the domain: alice left, came back, left, came back.
    requests = seeded.collection("users/alice/attendanceRequests").stream()
    outcomes = sorted(
        (r.get("processedAt"), r.get("attendance"), r.get("status")) for r in requests
    )
    assert [outcome[1:] for outcome in outcomes] == [
        (False, "applied"),
        (True, "applied"),
        (False, "applied"),
        (True, "applied"),
    ]
