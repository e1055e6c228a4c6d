"""The docs' HTTP API example runs as written (bash and curl) against the emulator suite.

The block (docs/concepts.md, "The HTTP API by example", marked ``tested-by`` this file) is run
once, whole; a DEBUG trap marks where each command's output starts, so each
answer is checked against what the docs say it shows.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from boiler.testing import EmulatorSuite, wait_until
from google.cloud import firestore
from meeting_room.seed import seed

from .markdown_examples import blocks_run_by
from .meeting_lists import expected_lists, stored_lists

ROOT = Path(__file__).resolve().parent.parent
MARK, END = "\x1e", "\x1f"  # printed around each command (which may span lines) as it runs


def readme_block() -> str:
    (block,) = blocks_run_by(__file__)
    assert block.language == "bash" and "/us-central1/api" in block.text, block.where
    return block.text


def run_block(suite: EmulatorSuite) -> list[tuple[str, str]]:
    """``(command, its output)`` for each command of the block, in order."""
    trap = f'trap \'printf "\\n{MARK}%s{END}\\n" "$BASH_COMMAND"\' DEBUG'
    script = f"{trap}\nset -eu\n{readme_block()}"
    env = {**os.environ, **suite.env(), "BOILER_FUNCTIONS_URL": suite.url("functions")}
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"the docs' API block failed (is curl installed?): {done.stderr}"
    records = []
    for record in done.stdout.split(MARK)[1:]:
        command, _, output = record.partition(f"{END}\n")
        records.append((command, output.strip()))
    return [(command, output) for command, output in records if command.startswith("curl")]


@pytest.fixture
def seeded(emulator_suite: EmulatorSuite, suite_firestore: firestore.Client) -> EmulatorSuite:
    seed(suite_firestore)

    def built() -> bool:
        lists = expected_lists(suite_firestore)
        sessions = list(suite_firestore.collection("users/alice/meetingSessions").stream())
        return stored_lists(suite_firestore) == lists and len(sessions) >= 3

    wait_until(built, timeout=60, message="the triggers build alice's views from the seed")
    return emulator_suite


def test_the_readme_curl_examples_answer_as_described(
    seeded: EmulatorSuite, suite_firestore: firestore.Client
) -> None:
    answers = run_block(seeded)
    assert len(answers) == 6, [command for command, _ in answers]
    outputs = [output for _, output in answers]

    agenda = json.loads(outputs[0])
    assert agenda["uid"] == "alice" and agenda["meetings"], agenda
    page: dict[str, Any] = json.loads(outputs[1])
    assert len(page["items"]) == 2 and page["nextPageToken"], page
    assert outputs[2] == "403"
    applied = json.loads(outputs[3])
    assert applied["status"] == "applied" and applied["reason"] is None, applied
    ticket = suite_firestore.document("meetings/kickoff/tickets/alice").get().to_dict()
    assert ticket is not None and ticket["attendance"] is False
    invalid = json.loads(outputs[4])
    assert invalid["status"] == 422
    assert [error["field"] for error in invalid["errors"]] == ["attendance"]
    one, two = json.loads(outputs[5])
    assert one["id"] == 1 and one["result"]["uid"] == "alice"
    assert two["id"] == 2 and two["error"]["data"]["status"] == 403
