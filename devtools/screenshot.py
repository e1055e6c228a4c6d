"""The README's screenshot of the web demo: `./dev screenshot` (or `python -m devtools.screenshot`).

Starts the local stack on free ports (the live server too), seeds the demo data at a fixed
hour, waits until every view equals a from-scratch build, then drives the real page in
headless Chromium (devtools/screenshot.mjs: alice reads the kickoff through the live server,
leaves and rejoins it, tries to read bob's view) and writes docs/images/web-demo.png.
tests/test_docs_examples.py runs `capture` against the test suite's emulators, so the script
cannot rot unnoticed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from boiler.testing import wait_until
from boiler.testing.emulators import EmulatorError, EmulatorSuite
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore
from meeting_room import app
from meeting_room.seed import seed

from .stack import PROJECT_ID, STACK, stack_env, start_live, stop_live

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "devtools" / "screenshot.mjs"
OUT = ROOT / "docs" / "images" / "web-demo.png"
SEED_HOUR = dt.datetime(2025, 6, 2, 16, tzinfo=dt.UTC)  # 9 AM in San Francisco, a Monday
MAX_BYTES = 200_000


def views_built(db: firestore.Client) -> bool:
    """Every view of the app equals what a from-scratch build of the domain gives."""
    return all(
        (stored := stored_views(view, db)) and stored == expected_views(view, db)
        for view in app.views
    )


def capture(
    db: firestore.Client, hosting_url: str, out: Path, chromium: str, live: str | None = None
) -> Path:
    """Seed the emptied database `db`, wait for the views, drive the page, write `out`; with
    `live` (a live server's ws:// address) the page reads the meeting through it."""
    seed(db, now=SEED_HOUR)
    wait_until(lambda: views_built(db), timeout=120, message="the demo's views built")
    board = db.document("locationBoards/hq").get()
    agenda = db.document("agendas/alice").get()
    expected = {
        "numUpcoming": agenda.get("numUpcoming"),
        "meetingsTotal": board.get("meetingsTotal"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not found on PATH (Node.js 20+ is required)")
    env = {
        **os.environ,
        "BOILER_HOSTING_URL": hosting_url,
        "BOILER_CHROMIUM": chromium,
        "BOILER_SCREENSHOT": str(out),
        "BOILER_EXPECTED": json.dumps(expected),
        "BOILER_LIVE_URL": live or "",
    }
    done = subprocess.run(
        [node, str(DRIVER)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if done.returncode != 0:
        raise RuntimeError(f"{DRIVER.name} failed: {done.stderr.strip()}")
    return out


def find_chromium() -> str:
    found = os.environ.get("BOILER_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError("no chromium: run ./dev setup, or set BOILER_CHROMIUM=/path/to/it")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    try:
        chromium = find_chromium()
        with EmulatorSuite(only=STACK, project_id=PROJECT_ID, fixed_ports=False) as suite:
            os.environ.update(stack_env(suite))
            db = firestore.Client(project=suite.project_id)
            server, live = start_live(suite)
            try:
                if live is None:
                    raise RuntimeError("the live server did not start (its error is above)")
                out = capture(db, suite.url("hosting"), args.out, chromium, live)
            finally:
                stop_live(server)
    except (EmulatorError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1000:.0f} KB)")
    if size > MAX_BYTES:
        print(f"error: over {MAX_BYTES / 1000:.0f} KB; shrink the viewport", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
