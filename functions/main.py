"""The deployable functions: every trigger compiled from the meeting-room app, and its API."""

from __future__ import annotations

import sys
from pathlib import Path

# Local runs import the framework and app from ../shared; deploys vendor them beside this file.
_shared = Path(__file__).resolve().parent.parent / "shared"
if _shared.is_dir() and str(_shared) not in sys.path:
    sys.path.insert(0, str(_shared))

from boiler.connectors.firebase import export_functions  # noqa: E402
from boiler.connectors.http_api import export_api  # noqa: E402
from meeting_room import app  # noqa: E402

globals().update(export_functions(app))
globals().update(export_api(app))
