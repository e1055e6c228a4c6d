"""API: GET of one view document through boiler's https function ``api``, against a hand-written
https function (``bench/baseline_functions/api.py: plain_get``) that reads the same document.

One emulator suite (Firestore, Functions, Auth) serves one codebase holding both functions
(each runs in its own Python worker) and ``plain_ping``, an https function that touches
nothing (the floor: the emulator's own HTTP round trip). The caller is a participant of a
meeting, with a real ID token from the Auth emulator; the view document is the one boiler's
triggers would write (built by the oracle from the seeded domain and stored once).

After a warm-up, every round sends one request of each kind, their order rotated from round
to round, so that drift on the shared machine hits every kind alike:
``api`` (200 with the view and an ETag), ``api_304`` (the same with ``If-None-Match``: 304, no
body), ``plain`` (the baseline's 200), ``floor``. Times run from just before the request is
sent until its body is read (``requests``, one keep-alive session).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from boiler.testing import oracle
from boiler.testing.auth import AuthEmulator
from google.cloud import firestore
from meeting_room import MeetingSession

from . import domain
from .stack import BenchSuite, generated_codebase, serving

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("api", "api_304", "plain", "floor")
FUNCTIONS = {"api": "api", "api_304": "api", "plain": "plain_get", "floor": "plain_ping"}
MEETING = "m1"

CODEBASE_MAIN = """\
import sys
sys.path[:0] = [{shared!r}, {root!r}]
from boiler.connectors.http_api import export_api
from meeting_room import app

from bench.baseline_functions.api import plain_get, plain_ping

globals().update(export_api(app))
"""


def codebase() -> str:
    """The benchmark's functions codebase (under .boiler/run): boiler's api and the baseline's.

    No triggers: nothing writes while the GETs are timed, and the app's triggers would only
    add workers that start during seeding."""
    main = CODEBASE_MAIN.format(shared=str(ROOT / "shared"), root=str(ROOT))
    return generated_codebase("api-bench", main)


def seed(client: firestore.Client, participants: int) -> str:
    """The meeting's domain and its stored views; returns the caller's uid (a participant)."""
    members = domain.seed_meeting(client, MEETING, participants)
    for path, fields in oracle.expected_views(MeetingSession, client).items():
        client.document(path).set(fields)
    return members[0]


def run(
    requests_each: int, warmup: int, participants: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """``warmup`` + ``requests_each`` rounds of the four kinds, in one emulator suite."""
    suite = BenchSuite(codebase(), only=("firestore", "functions", "auth"))
    log(f"api: starting emulators (log {suite.log_path})")
    suite.start()
    with serving(suite):
        client = firestore.Client(project=suite.project_id)
        uid = seed(client, participants)
        document = f"users/{uid}/meetingSessions/{MEETING}"
        token = AuthEmulator(suite.auth_host, suite.project_id).id_token(uid)
        bearer = {"Authorization": f"Bearer {token}"}
        base = f"{suite.url('functions')}/{suite.project_id}/us-central1"
        urls = {
            "api": f"{base}/api/v1/{document}",
            "plain": f"{base}/plain_get/{document}",
            "floor": f"{base}/plain_ping",
        }
        session = requests.Session()

        def get(url: str, headers: dict[str, str]) -> tuple[float, requests.Response]:
            began = time.perf_counter()
            response = session.get(url, headers=headers, timeout=60)
            _ = response.content
            return 1000 * (time.perf_counter() - began), response

        # The first request of each function waits for its Python worker to start.
        first_ms: dict[str, float] = {}
        first: dict[str, requests.Response] = {}
        for kind in ("api", "plain", "floor"):
            first_ms[kind], first[kind] = get(urls[kind], bearer)
            if first[kind].status_code != 200:
                raise RuntimeError(
                    f"api: {kind} answered HTTP {first[kind].status_code}: "
                    f"{first[kind].text[:300]}; log {suite.log_path}"
                )
        etag = first["api"].headers["ETag"]
        requests_by_kind = {
            "api": (urls["api"], bearer, 200),
            "api_304": (urls["api"], {**bearer, "If-None-Match": etag}, 304),
            "plain": (urls["plain"], bearer, 200),
            "floor": (urls["floor"], {}, 200),
        }
        samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
        errors = dict.fromkeys(KINDS, 0)
        sent: list[str] = []  # the measured requests' kinds, in order (the log's order too)
        before = len(first_ms) + warmup * len(KINDS)  # requests the log shows before them
        for i in range(warmup + requests_each):
            shift = i % len(KINDS)
            for kind in KINDS[shift:] + KINDS[:shift]:
                url, headers, status = requests_by_kind[kind]
                ms, response = get(url, headers)
                if response.status_code != status:
                    errors[kind] += 1
                elif i >= warmup:
                    samples[kind].append(ms)
                if i >= warmup:
                    sent.append(kind)
        return {
            "participants": participants,
            "requests_each": requests_each,
            "warmup": warmup,
            "view_bytes": len(first["api"].content),
            "same_body": first["api"].json() == first["plain"].json(),
            "samples_ms": samples,
            "errors": errors,
            "first_request_ms": first_ms,
            "function_ms": _function_ms(suite.log_path, before, sent),
            "startup_s": suite.startup_seconds,
        }


_FINISHED = re.compile(r'Finished "[\w-]+" in ([\d.]+)ms')


def _function_ms(
    log: Path, skip: int, sent: list[str], timeout: float = 10
) -> dict[str, list[float]]:
    """Each measured request's run time as the functions emulator logs it (from the emulator
    handing it to the worker to the response), by kind: the log's ``Finished`` lines after the
    first ``skip`` are the measured requests, in the order sent. Empty if they do not add up."""
    deadline = time.monotonic() + timeout
    while True:
        runs = [float(ms) for ms in _FINISHED.findall(log.read_text(errors="replace"))][skip:]
        if len(runs) >= len(sent) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    out: dict[str, list[float]] = {kind: [] for kind in KINDS}
    if len(runs) == len(sent):
        for kind, ms in zip(sent, runs, strict=True):
            out[kind].append(ms)
    return out
