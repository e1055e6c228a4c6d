"""The web demo in real headless Chromium, against firebase-tools' emulators with hosting.

The page (web/, built to web/dist by `./dev setup`) is served by the hosting emulator, signs
in through the Auth emulator and reads its views live (agenda, meeting, location board);
tests/browser/web_demo.mjs drives the users' pages through playwright-core and the system's
Chromium, checking what they show against tests/meeting_lists.py's recomputation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from boiler.runtime.command_order import CommandOrder
from boiler.testing import EmulatorSuite, wait_until
from google.cloud import firestore
from meeting_room import AttendanceRequest
from meeting_room.seed import MEETING_ID, USERS, seed

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
