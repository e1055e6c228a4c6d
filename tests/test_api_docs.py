"""The HTTP API's interactive docs (/docs) in real headless Chromium, served by the functions
emulator: every operation of openapi.json is shown, "Try it out" calls the API with a real ID
token, and the page loads nothing from anywhere but the API itself (its assets come from the
swagger-ui-py package)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from boiler.testing import EmulatorSuite
from boiler.testing.auth import AuthEmulator
from google.cloud import firestore

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "browser" / "api_docs.mjs"


def test_the_docs_show_every_operation_and_call_the_api(
    chromium: str, emulator_suite: EmulatorSuite, suite_firestore: firestore.Client
) -> None:
    agenda = {"uid": "alice", "meetings": [], "numUpcoming": 0}
    suite_firestore.document("agendas/alice").set(agenda)
    node = shutil.which("node")
    assert node, "node not found on PATH (Node.js 20+ is required)"
    api = f"{emulator_suite.url('functions')}/{emulator_suite.project_id}/us-central1/api"
    document = json.loads((ROOT / "openapi.json").read_text())
    operations = sum(len(methods) for methods in document["paths"].values())
    token = AuthEmulator(emulator_suite.auth_host, emulator_suite.project_id).id_token("alice")
    env = {
        **os.environ,
        "BOILER_API_URL": api,
        "BOILER_CHROMIUM": chromium,
        "BOILER_TOKEN": token,
        "BOILER_OPERATIONS": str(operations),
        "BOILER_SCREENSHOTS": str(ROOT / ".boiler" / "screenshots"),
    }
    result = subprocess.run(
        [node, str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}"
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["origins"] == [emulator_suite.url("functions")]  # nothing from the internet
    assert seen["status"] == "200", seen
    assert json.loads(seen["body"]) == agenda
