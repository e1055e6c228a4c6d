"""Firestore field names are camelCase; Python attributes are snake_case."""

from __future__ import annotations

import re

_WORD_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def to_camel(name: str) -> str:
    """``hearing_aid_requested`` -> ``hearingAidRequested``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_snake(name: str) -> str:
    """``MeetingSession`` -> ``meeting_session``; ``hearingAid`` -> ``hearing_aid``."""
    return _WORD_BOUNDARY.sub("_", name).lower()
